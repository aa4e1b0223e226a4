import { describe, expect, it } from 'vitest';
import { registryErrorSummary, registryStatusError } from './errors.js';

describe("a registry's refusal that names what must exist first", () => {
  // Harbor's body as its error handler writes it (src/lib/http/error.go: SendError, Fprintln adds the newline).
  const harbor = '{"errors":[{"code":"NOT_FOUND","message":"project k8s not found"}]}\n';

  it("turns Harbor's missing project into a missing-artifact error saying what to create (exit 5)", () => {
    const error = registryStatusError('starting an upload to harbor.example/k8s/registry.k8s.io/pause', 404, {}, harbor, 'harbor.example');
    expect(error.kind).toBe('missing');
    expect(error.message).toBe('starting an upload to harbor.example/k8s/registry.k8s.io/pause: harbor.example has no project "k8s" (it answered 404 NOT_FOUND: project k8s not found)');
    expect(error.hint).toContain('create the project "k8s" on harbor.example');
    expect(error.details).toMatchObject({ missing: { kind: 'project', name: 'k8s' }, retryable: false });
  });

  it('does not guess from any other 404: the generic error with the registry\'s own words', () => {
    const unknown = registryStatusError('checking x', 404, {}, '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}', 'r.example');
    expect(unknown.message).toBe('checking x: not found (NAME_UNKNOWN: repository name not known to registry)');
    expect(unknown.hint).toBe('check the name, tag and registry');
    // Artifactory's shape has a status and a message, no code (JFrog REST APIs, "Error Responses").
    expect(registryErrorSummary('{"errors":[{"status":404,"message":"Repository k8s not found"}]}')).toBe('Repository k8s not found');
    const project = registryStatusError('pushing', 403, {}, harbor, 'harbor.example');
    expect(project.kind).toBe('credentials');
  });
});
