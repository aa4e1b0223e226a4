import { MissingError, type AgError } from '../errors.js';

/** One entry of a registry error body's `errors` array, as the registries that use one write it. */
export interface RegistryErrorEntry {
  code?: string;
  message?: string;
  /** Artifactory writes an HTTP status instead of a code (JFrog REST APIs, "Error Responses"). */
  status?: number;
  detail?: unknown;
}

/** The `errors` array of a registry's error body; empty when the body is not such JSON. */
export function registryErrorEntries(text: string): RegistryErrorEntry[] {
  try {
    const body = JSON.parse(text) as { errors?: unknown };
    return Array.isArray(body.errors) ? body.errors.filter((e): e is RegistryErrorEntry => e !== null && typeof e === 'object') : [];
  } catch {
    // Not JSON: a proxy's HTML page, say.
    return [];
  }
}

/**
 * Harbor's answer to a push into a project that does not exist: 404 with
 * `{"errors":[{"code":"NOT_FOUND","message":"project <name> not found"}]}`
 * (goharbor/harbor: src/lib/errors/errors.go marshals the array,
 * src/lib/http/error.go maps NOT_FOUND to 404, and the project controller's
 * GetByName words the message).
 */
const HARBOR_PROJECT_NOT_FOUND = /^project (\S+) not found$/;

/**
 * A refusal that names something the registry needs to exist before a push,
 * as an error saying exactly what to create, from the registry's own words;
 * undefined for any other answer (the caller's generic interpretation then
 * stands: nothing is guessed). Known: Harbor's missing project.
 */
export function missingPrerequisite(doing: string, status: number, bodyText: string, registry: string): AgError | undefined {
  if (status !== 404) return undefined;
  for (const entry of registryErrorEntries(bodyText)) {
    const project = entry.code === 'NOT_FOUND' && typeof entry.message === 'string' ? HARBOR_PROJECT_NOT_FOUND.exec(entry.message.trim())?.[1] : undefined;
    if (project === undefined) continue;
    return new MissingError(`${doing}: ${registry} has no project ${JSON.stringify(project)} (it answered 404 NOT_FOUND: ${entry.message!.trim()})`, {
      hint:
        `create the project ${JSON.stringify(project)} on ${registry} (Harbor: Projects, New Project; or POST /api/v2.0/projects with {"project_name":"${project}"}) ` +
        `and give the account that pushes (a robot account, say) push permission in it; then run the same command again`,
      details: { status, retryable: false, registry, missing: { kind: 'project', name: project } },
    });
  }
  return undefined;
}
