// The course API's options: checked by startRegistry before anything opens, and by the server
// that applies them. Apart from the server so that checking them loads no HTTP framework.
import { checkOption } from '../../protocol/errors.js';
import { DEFAULT_COURSE_SOURCES, SourceList } from '../../shared/source-list.js';

export interface RegistryCourseOptions {
  /** false: the course API (/services) refuses every request. Default true. */
  enabled?: boolean;
  /** Source addresses (IPs or CIDRs) allowed to use the course API. Default loopback only. */
  sources?: string[];
}

/** Checks the course options (messages name the option) and resolves their defaults. */
export function courseOptionsOf(course: RegistryCourseOptions): { enabled: boolean; sources: SourceList } {
  checkOption(course.enabled === undefined || typeof course.enabled === 'boolean', 'course.enabled', 'true or false');
  const sources = course.sources ?? DEFAULT_COURSE_SOURCES;
  checkOption(Array.isArray(sources) && sources.every((s) => typeof s === 'string'), 'course.sources', 'a list of IP addresses or CIDRs');
  return { enabled: course.enabled ?? true, sources: new SourceList(sources, 'course.sources') };
}
