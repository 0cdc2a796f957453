"""README.md and README.ko.md stay in step, and their examples use today's grammar.

Both READMEs are read as Markdown text: the commands of their ```bash blocks
(shell-split, so line breaks, backslash continuations and `# comments` do not
count) and every `python -m ...` in inline code. A `python -m` command is
compared as module, verb, positional arguments and its options, each option
with its values, in any order (`--a 1 --b 2` is `--b 2 --a 1`); any other
shell line (`pip install`, `python -c`, `export`) by its tokens. Comments and
prose may differ between the two languages; the commands may not.

Fast and offline: no TensorFlow is imported. Modules are looked up with
importlib.util.find_spec, which imports only the packages' empty __init__.py.
"""

import collections
import importlib.util
import os
import re
import shlex

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READMES = ("README.md", "README.ko.md")
# The heading above each README's results table.
RESULTS_HEADINGS = {"README.md": "## Results", "README.ko.md": "## 결과"}

# Old spellings that still work (with a note). Each is documented once, in the
# README's table of old and new spellings, and appears in no example. No
# command has a current `--model` flag (cifar10, dcgan and skipgram all renamed
# theirs), so `--model` anywhere in code is an old spelling.
DEPRECATED = {
    "char_rnn sample": re.compile(r"\bchar_rnn\s+sample\b"),
    "--num_sentences": re.compile(r"(?<![\w-])--num_sentences(?![\w-])"),
    "--max_words": re.compile(r"(?<![\w-])--max_words(?![\w-])"),
    "--model": re.compile(r"(?<![\w-])--model(?![\w-])"),
    "--corpus": re.compile(r"(?<![\w-])--corpus(?![\w-])"),
}

PYTHON_M = re.compile(r"\bpython3?\s+-m\s")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
FLAG = re.compile(r"-{1,2}[A-Za-z]|--$")
# Digits that stand alone: "CIFAR-10" and "0.83x" count, "word2vec" does not.
NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?:e-?\d+)?")


# A piece of code in a README: a logical line of a fenced block (`language` is the
# fence's), or an inline span (`table`: the index of the table it sits in, or None).
Fragment = collections.namedtuple("Fragment", "where text fenced language table")


def read(name):
    with open(os.path.join(REPO_ROOT, name), encoding="utf-8") as handle:
        return handle.read()


def parse(name, text):
    """(fragments, tables) of a Markdown text; tables are lists of (line number, line)."""
    fragments, tables = [], []
    fence, pending, pending_start, in_table = None, "", 0, False
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{name}:{number}"
        if fence is not None:
            if line.strip().startswith("```"):
                if pending.strip():
                    fragments.append(Fragment(f"{name}:{pending_start}", pending, True, fence,
                                              None))
                fence, pending = None, ""
                continue
            if not pending:
                pending_start = number
            pending += line + "\n"
            # A command goes on past a trailing backslash or an open quote.
            if line.endswith("\\") or not shell_complete(pending):
                continue
            fragments.append(Fragment(f"{name}:{pending_start}", pending, True, fence, None))
            pending = ""
            continue
        if line.strip().startswith("```"):
            fence, in_table = line.strip()[3:].strip(), False
            continue
        if line.startswith("|"):
            if not in_table:
                tables.append([])
                in_table = True
            tables[-1].append((number, line))
        else:
            in_table = False
        table = len(tables) - 1 if in_table else None
        for span in INLINE_CODE.findall(line):
            fragments.append(Fragment(where, span.replace("\\|", "|"), False, None, table))
    assert fence is None, f"{name}: a code block is never closed"
    return fragments, tables


def shell_complete(text):
    try:
        shell_tokens(text)
    except ValueError:  # "No closing quotation"
        return False
    return True


def shell_tokens(text):
    """Shell words; whitespace inside a quoted word (a wrapped JSON string) counts as one space."""
    return [" ".join(word.split()) for word in
            shlex.split(text.replace("\\\n", " "), comments=True)]


def command_key(tokens):
    """The comparable form of one command's tokens (see the module docstring)."""
    if tokens[:1] not in (["python"], ["python3"]) or tokens[1:2] != ["-m"] or len(tokens) < 3:
        return ("shell", tuple(tokens))
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", tokens[2]):
        return None  # a pattern, not a command: `python -m <package>.<command> VERB ...`
    module, rest = tokens[2], tokens[3:]
    verb = rest[0] if rest and not FLAG.match(rest[0]) else None
    positionals, options = [], []
    for token in rest[1 if verb else 0:]:
        if FLAG.match(token):
            options.append([token])
        elif options:
            options[-1].append(token)
        else:
            positionals.append(token)
    return ("python -m", module, verb, tuple(positionals),
            tuple(sorted(tuple(option) for option in options)))


def show(key):
    if key[0] == "shell":
        return shlex.join(key[1])
    _, module, verb, positionals, options = key
    words = ["python", "-m", module, *([verb] if verb else []), *positionals]
    return shlex.join(words + [token for option in options for token in option])


def split_commands(tokens):
    """One token list per command: `A -- python -m B ...` (common.cluster) holds two."""
    starts = [i for i in range(len(tokens) - 1)
              if tokens[i] in ("python", "python3") and tokens[i + 1] == "-m"]
    if not starts or starts[0] != 0:
        starts = [0] + starts
    return [tokens[a:b] for a, b in zip(starts, starts[1:] + [len(tokens)]) if tokens[a:b]]


def commands(fragments):
    """{key: first place it appears} for every command of the README's examples."""
    found = {}
    for fragment in fragments:
        if fragment.fenced and fragment.language not in ("bash", "sh", "shell"):
            continue
        if not fragment.fenced and not PYTHON_M.search(fragment.text):
            continue
        for tokens in split_commands(shell_tokens(fragment.text)):
            key = command_key(tokens)
            if key is not None:
                found.setdefault(key, fragment.where)
    return found


def deprecation_table(name, tables):
    """The index of the one table of old spellings: every row's first cell is one."""
    found = []
    for index, table in enumerate(tables):
        rows = [line for _, line in table[2:]]  # past the header and its |---| line
        if rows and all(any(p.search(row.split("|")[1]) for p in DEPRECATED.values())
                        for row in rows):
            found.append(index)
    assert len(found) == 1, (f"{name}: expected one table of old spellings, found "
                             f"{len(found)}")
    text = "\n".join(line for _, line in tables[found[0]])
    missing = [old for old, pattern in DEPRECATED.items() if not pattern.search(text)]
    assert not missing, f"{name}: the table of old spellings lacks {missing}"
    return found[0]


@pytest.fixture(scope="module")
def readmes():
    return {name: parse(name, read(name)) for name in READMES}


def test_both_readmes_give_the_same_commands(readmes):
    english, korean = (commands(readmes[name][0]) for name in READMES)
    # The extraction found the examples at all (a parser that finds nothing is equal too).
    assert len(english) >= 60, sorted(map(show, english))
    for must in ("python -m pytest", "python -m week3_rnn.char_rnn train",
                 "pip install -r requirements.txt"):
        assert command_key(shlex.split(must)) in english, must
    only_english = sorted(f"{english[key]}: {show(key)}" for key in english.keys() - korean)
    only_korean = sorted(f"{korean[key]}: {show(key)}" for key in korean.keys() - english)
    assert not only_english and not only_korean, (
        "the READMEs' commands differ;\nonly in README.md:\n  " + "\n  ".join(only_english)
        + "\nonly in README.ko.md:\n  " + "\n  ".join(only_korean))


@pytest.mark.parametrize("name", READMES)
def test_examples_use_only_current_spellings(readmes, name):
    fragments, tables = readmes[name]
    table = deprecation_table(name, tables)
    found = [f"{fragment.where}: {old} in {fragment.text.strip()!r}"
             for fragment in fragments if fragment.table != table
             for old, pattern in DEPRECATED.items() if pattern.search(fragment.text)]
    assert not found, "old spellings outside their table:\n" + "\n".join(found)


@pytest.mark.parametrize("name", READMES)
def test_every_named_module_and_file_exists(readmes, name):
    fragments, _ = readmes[name]
    missing = []
    for key, where in commands(fragments).items():
        if key[0] != "python -m":
            continue
        try:
            spec = importlib.util.find_spec(key[1])
        except ModuleNotFoundError:  # its package is missing
            spec = None
        if spec is None:
            missing.append(f"{where}: module {key[1]}")
    for fragment in fragments:
        path = fragment.text.strip()
        if re.fullmatch(r"[\w.]+(/[\w.]+)+\.py", path) and not os.path.isfile(
                os.path.join(REPO_ROOT, path)):
            missing.append(f"{fragment.where}: file {path}")
    assert not missing, "named in the README but not in the repository:\n" + "\n".join(missing)


def results_rows(name, tables):
    heading = read(name).splitlines().index(RESULTS_HEADINGS[name]) + 1
    table = next(table for table in tables if table[0][0] > heading)
    return [(number, collections.Counter(NUMBER.findall(line))) for number, line in table[2:]]


def test_results_tables_give_the_same_numbers(readmes):
    english, korean = (results_rows(name, readmes[name][1]) for name in READMES)
    assert len(english) >= 20 and len(english) == len(korean), (
        f"results rows: {len(english)} in README.md, {len(korean)} in README.ko.md")
    differ = [f"README.md:{a} vs README.ko.md:{b}: only English {sorted((x - y).elements())}, "
              f"only Korean {sorted((y - x).elements())}"
              for (a, x), (b, y) in zip(english, korean) if x != y]
    assert not differ, "results rows with other numbers:\n" + "\n".join(differ)
