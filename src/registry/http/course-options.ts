// The course API's options: checked by startRegistry before anything opens, and by the server
// that applies them. Apart from the server so that checking them loads no HTTP framework.
import { z } from 'zod';
import { flag, resolveOptions } from '../../shared/options.js';
import { DEFAULT_COURSE_SOURCES, SourceList } from '../../shared/source-list.js';

export const courseOptionsSchema = z.strictObject({
  /** false: the course API (/services) refuses every request. */
  enabled: flag().default(true),
  /** Source addresses (IPs or CIDRs) allowed to use the course API. Default loopback only. */
  sources: z.array(z.string(), { error: 'a list of IP addresses or CIDRs' }).default([...DEFAULT_COURSE_SOURCES]),
});

export type RegistryCourseOptions = z.input<typeof courseOptionsSchema>;

export type CourseSettings = z.output<typeof courseOptionsSchema>;

/** Checks the course options (messages name the option) and resolves their defaults. */
export function courseOptionsOf(course: RegistryCourseOptions | undefined): { enabled: boolean; sources: SourceList } {
  return courseAccessOf(resolveOptions(courseOptionsSchema, course, { owner: 'the registry', path: 'course' }));
}

/** Resolved course options as the access guard applies them; each source is checked as an address here. */
export function courseAccessOf({ enabled, sources }: CourseSettings): { enabled: boolean; sources: SourceList } {
  return { enabled, sources: new SourceList(sources, 'course.sources') };
}
