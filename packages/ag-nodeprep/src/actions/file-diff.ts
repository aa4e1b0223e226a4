import { createTwoFilesPatch, FILE_HEADERS_ONLY } from 'diff';

/**
 * The unified diff (`diff -u`, three lines of context) from a node file's
 * current text to what apply writes; `before` undefined is a new file
 * (`--- /dev/null`). Both sides are named by their node path, as
 * `terraform plan` and `git diff` name the file they change.
 */
export function fileDiff(path: string, before: string | undefined, after: string): string {
  return createTwoFilesPatch(before === undefined ? '/dev/null' : path, path, before ?? '', after, undefined, undefined, {
    context: 3,
    headerOptions: FILE_HEADERS_ONLY,
  });
}
