// wrap-ansi (9.x) for text without escape sequences, which is all of ag's
// --help: cliui wraps every cell of it with wrap-ansi, which after placing the
// words walks the result a code point at a time looking for colour and link
// escapes to carry across line breaks (~5 to 10 ms of ag-nodeprep's --help).
// Without an escape that walk returns its input, so this is wrap-ansi's
// placing of words alone (its `exec` and `wrapWord`, less the escape
// bookkeeping); text with an escape goes to wrap-ansi itself. bundle-bins.mjs
// routes cliui's import of wrap-ansi to a module that chooses between the two;
// src/plain-wrap-ansi.test.ts holds the two to the same output.
import stringWidth from 'string-width';

const ESCAPE = /[\u001B\u009B]/;

/** Whether wrap-ansi's escape handling has nothing to do in `text`. */
export function isPlain(text) {
  return !ESCAPE.test(text);
}

// Fills rows with a word longer than a row, a code point at a time.
function wrapWord(rows, word, columns) {
  const characters = [...word];
  let visible = stringWidth(rows.at(-1));
  for (const [index, character] of characters.entries()) {
    const characterLength = stringWidth(character);
    if (visible + characterLength <= columns) {
      rows[rows.length - 1] += character;
    } else {
      rows.push(character);
      visible = 0;
    }
    visible += characterLength;
    if (visible === columns && index < characters.length - 1) {
      rows.push('');
      visible = 0;
    }
  }
  if (!visible && rows.at(-1).length > 0 && rows.length > 1) rows[rows.length - 2] += rows.pop();
}

function trimSpacesRight(row) {
  const words = row.split(' ');
  let last = words.length;
  while (last > 0 && stringWidth(words[last - 1]) === 0) last--;
  return last === words.length ? row : words.slice(0, last).join(' ') + words.slice(last).join('');
}

function wrapLine(line, columns, options) {
  if (options.trim !== false && line.trim() === '') return '';
  const words = line.split(' ');
  const lengths = words.map((word) => stringWidth(word));
  let rows = [''];
  for (const [index, word] of words.entries()) {
    if (options.trim !== false) rows[rows.length - 1] = rows.at(-1).trimStart();
    let rowLength = stringWidth(rows.at(-1));
    if (index !== 0) {
      if (rowLength >= columns && (options.wordWrap === false || options.trim === false)) {
        rows.push('');
        rowLength = 0;
      }
      if (rowLength > 0 || options.trim === false) {
        rows[rows.length - 1] += ' ';
        rowLength++;
      }
    }
    if (options.hard && lengths[index] > columns) {
      const remainingColumns = columns - rowLength;
      const breaksStartingThisLine = 1 + Math.floor((lengths[index] - remainingColumns - 1) / columns);
      const breaksStartingNextLine = Math.floor((lengths[index] - 1) / columns);
      if (breaksStartingNextLine < breaksStartingThisLine) rows.push('');
      wrapWord(rows, word, columns);
      continue;
    }
    if (rowLength + lengths[index] > columns && rowLength > 0 && lengths[index] > 0) {
      if (options.wordWrap === false && rowLength < columns) {
        wrapWord(rows, word, columns);
        continue;
      }
      rows.push('');
    }
    if (rowLength + lengths[index] > columns && options.wordWrap === false) {
      wrapWord(rows, word, columns);
      continue;
    }
    rows[rows.length - 1] += word;
  }
  if (options.trim !== false) rows = rows.map(trimSpacesRight);
  return rows.join('\n');
}

/** wrap-ansi's default export, for text where isPlain() holds. */
export function wrapPlain(text, columns, options = {}) {
  return String(text)
    .normalize()
    .replaceAll('\r\n', '\n')
    .split('\n')
    .map((line) => wrapLine(line, columns, options))
    .join('\n');
}
