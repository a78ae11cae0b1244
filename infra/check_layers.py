#!/usr/bin/env python3
"""Checks that the modules of `shared/src` depend on each other one way.

Reads every `crate::…` path in the code (comments and `#[cfg(test)]` code are ignored: a doc
link or a test helper is no dependency of the product) and every child a parent re-exports
(`pub use events::Event` in `store`: who uses `store::Event` depends on `store::events`), builds
the module graph and fails
(exit 1) on:

- any import cycle between modules (a child module may use its parent: `store::orders` uses
  `store`), and
- a domain module (the rules: what an order, a package, a result is) importing an adapter or an
  edge (`http`, `store`, `api`) or one of the domain's operations (`results::submit`: the part
  of a domain module that stores and queues, and that only entry points call);
- anything below the entry points importing them: only `api` uses `api`, only `api` and `ops`
  use `ops` (what an operator sees is presented, never built upon).

Usage: `python3 infra/check_layers.py [shared/src] [--graph]` (run by `make lint`).
"""
import collections
import os
import re
import sys

# The rules: they know nothing of DynamoDB, queues or HTTP events.
DOMAIN = ("orders", "packages", "results", "kombo::orders", "kombo::packages")
# A domain module's operations (its one part that stores and queues), which the rules never use.
OPERATIONS = ("results::submit", "packages::replace", "orders::receive")
# What a domain module must not import.
FORBIDDEN_FOR_DOMAIN = ("http", "store", "api") + OPERATIONS
# Entry points, and who may use them.
ENTRY_POINTS = {"api": ("api",), "ops": ("api", "ops")}


def strip_comments(src):
    """Drops `//` comments (doc comments included) and string-free `/* */` blocks."""
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    out = []
    for line in src.split("\n"):
        # A `//` inside a string literal ("https://…") is kept: cut only at a `//` that is not
        # preceded by an odd number of quotes on the line.
        cut = None
        for m in re.finditer(r"//", line):
            if line[: m.start()].count('"') % 2 == 0:
                cut = m.start()
                break
        out.append(line if cut is None else line[:cut])
    return "\n".join(out)


def without_tests(src):
    """The code before the first `#[cfg(test)]` (test modules sit at the end of a file)."""
    return re.split(r"#\[cfg\(test\)\]", src)[0]


def load(root):
    mods = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            module = os.path.relpath(path, root)[:-3]
            if module in ("lib", "main"):
                continue
            if module.endswith("/mod"):
                module = module[:-4]
            with open(path) as f:
                mods[module.replace("/", "::")] = strip_comments(without_tests(f.read()))
    return mods


def split_group(body):
    """The top-level items of a `{a, b::{c, d}, e}` group (without its outer braces)."""
    items, depth, current = [], 0, ""
    for c in body:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += c
    items.append(current)
    return [i.strip() for i in items if i.strip()]


def group_at(src, i):
    """The text inside the braces that open at `src[i]`."""
    depth, j = 0, i
    while j < len(src):
        if src[j] == "{":
            depth += 1
        elif src[j] == "}":
            depth -= 1
            if depth == 0:
                return src[i + 1 : j]
        j += 1
    return src[i + 1 :]


def resolve(path, mods):
    """The longest module named by a `a::b::c` path (`a::b` if it is a module, else `a`)."""
    parts = path.split("::")
    for n in range(len(parts), 0, -1):
        candidate = "::".join(parts[:n])
        if candidate in mods:
            return candidate
    return None


def dependencies(src, mods):
    out = set()
    for m in re.finditer(r"crate::", src):
        rest = src[m.end() :]
        if rest.startswith("{"):
            paths = split_group(group_at(rest, 0))
        else:
            paths = [rest]
        for p in paths:
            head = re.match(r"[a-z_][a-z0-9_]*(::[a-z_][a-z0-9_]*)*(::\{)?", p)
            if not head:
                continue
            text = head.group(0)
            if text.endswith("::{"):
                # `crate::a::{b, c}`: each item may name a submodule of `a`.
                base = text[:-3]
                inner = group_at(p, len(text) - 1)
                for item in split_group(inner):
                    name = re.match(r"[a-z_][a-z0-9_]*", item)
                    target = resolve(base + "::" + name.group(0), mods) if name else None
                    target = target or resolve(base, mods)
                    if target:
                        out.add(target)
            else:
                target = resolve(text, mods)
                if target:
                    out.add(target)
    return out


def reexports(module, src, mods):
    """The children a module re-exports (`pub use events::Event;`): users of the parent use them."""
    out = set()
    for m in re.finditer(r"pub use (?:self::)?([a-z_][a-z0-9_]*)::", src):
        child = f"{module}::{m.group(1)}"
        if child in mods:
            out.add(child)
    return out


def graph(mods):
    g = collections.defaultdict(set)
    for module, src in mods.items():
        for dep in dependencies(src, mods) | reexports(module, src, mods):
            # A module using itself or its own parent is no edge between layers (a parent
            # re-exporting its child is: see `reexports`).
            if dep != module and not module.startswith(dep + "::"):
                g[module].add(dep)
    return g


def cycles(g):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def is_under(module, name):
    return module == name or module.startswith(name + "::")


def main(argv):
    root = next((a for a in argv[1:] if not a.startswith("--")), "shared/src")
    mods = load(root)
    g = graph(mods)
    if "--graph" in argv:
        for module in sorted(g):
            print(module, "->", " ".join(sorted(g[module])))
    problems = []
    for component in cycles(g):
        inside = [f"{a} -> {b}" for a in component for b in sorted(g[a]) if b in component]
        problems.append("import cycle between " + ", ".join(component) + ":\n    " + "\n    ".join(inside))
    for module in sorted(g):
        if not any(is_under(module, d) for d in DOMAIN):
            continue
        if any(is_under(module, o) for o in OPERATIONS):
            continue
        for dep in sorted(g[module]):
            if any(is_under(dep, f) for f in FORBIDDEN_FOR_DOMAIN):
                problems.append(f"domain module {module} imports {dep}")
    for module in sorted(g):
        for dep in sorted(g[module]):
            for entry, users in ENTRY_POINTS.items():
                if is_under(dep, entry) and not any(is_under(module, u) for u in users):
                    problems.append(f"{module} imports the entry point {dep}")
    for p in problems:
        print("check_layers:", p, file=sys.stderr)
    if problems:
        return 1
    print(f"check_layers: {len(mods)} modules, no import cycle, the domain imports no adapter, "
          "nothing imports an entry point")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
