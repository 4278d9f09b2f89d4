// The read path of every registry: one instance, all of them, the services and one service,
// answered from a catalog. A single registry reads its own catalog; a cluster node reads its
// leader's or its etcd mirror's, through the same code.
import { instanceNotFound, serviceNotFound } from '../protocol/errors.js';
import type { ServiceView } from '../protocol/v1.js';
import { serviceView, type Catalog, type InstanceRecord } from './catalog.js';

/** What a registry answers from its catalog. */
export interface CatalogReads {
  instance(id: string): InstanceRecord;
  instances(): InstanceRecord[];
  services(): ServiceView[];
  service(name: string): ServiceView;
}

export class CatalogReader implements CatalogReads {
  readonly #catalog: Catalog;

  constructor(catalog: Catalog) {
    this.#catalog = catalog;
  }

  /** INSTANCE_NOT_FOUND when no instance has this id. */
  instance(id: string): InstanceRecord {
    const record = this.#catalog.get(id);
    if (!record) throw instanceNotFound(id);
    return record;
  }

  instances(): InstanceRecord[] {
    return this.#catalog.list();
  }

  services(): ServiceView[] {
    return this.#catalog.serviceNames().map((name) => serviceView(this.#catalog, name));
  }

  /**
   * As `services()` lists it: a service only required, with no instance, is found with no
   * instances; SERVICE_NOT_FOUND when nothing registers or requires it.
   */
  service(name: string): ServiceView {
    const view = serviceView(this.#catalog, name);
    if (view.instances.length === 0 && view.requiredBy.length === 0) throw serviceNotFound(name);
    return view;
  }
}
