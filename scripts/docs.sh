#!/usr/bin/env bash
# make docs: the API reference, generated from the sources into docs/_build:
#   fortran/  FORD over the Fortran module as compiled (fortran/hybridge.fypp expanded);
#   c/        Doxygen over csrc/include/hybridge.h;
#   python/   pdoc over the public Python API (PUBLIC_PYTHON below).
# Fails when a public Fortran procedure, type or constant, a C function, enum, typedef or
# macro, or a public Python module, class, function or method has no documentation.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${HYBRIDGE_VENV:-$PWD/.venv}
build=${HYBRIDGE_BUILD:-$PWD/build}
export PATH="$venv/bin:$PATH"
out=$PWD/docs/_build
# The Python modules a user imports; the rest are the CLI's and the tests' internals.
PUBLIC_PYTHON=(hybridge hybridge.core hybridge.manifest hybridge.model_file hybridge.install hybridge.export)

rm -rf "$out"
mkdir -p "$out/c" "$build/docs/fortran"

echo "docs: Fortran (FORD)"
python -m fypp fortran/hybridge.fypp "$build/docs/fortran/hybridge.f90"
ford -d "$build/docs/fortran" -o "$out/fortran" docs/ford.md >"$build/docs/ford.log" 2>&1 ||
  { cat "$build/docs/ford.log"; exit 1; }
# FORD warns about every undocumented entity, private ones and dummy arguments included:
# the public names of the module must not be among them.
python - "$build/docs/fortran/hybridge.f90" "$build/docs/ford.log" "$out/fortran" <<'PY'
import re, sys
source, log = (open(p).read() for p in sys.argv[1:3])
public = set()
for decl in re.findall(r"^\s*public\s*::\s*((?:[^\n]*&\n)*[^\n]*)", source, re.M | re.I):
    public |= {n.strip().lower() for n in decl.replace("&", " ").split(",") if n.strip()}
public |= {n.lower() for n in re.findall(r"^\s*(?:type|integer|real).*?\bpublic\b.*?::\s*(\w+)", source, re.M | re.I)}
missing = sorted({n for kind, n in re.findall(r"Undocumented (\w+) '(\w+)'", log) if n.lower() in public})
if missing:
    sys.exit("docs: public Fortran entities without documentation: " + ", ".join(missing))
# every public procedure has its page, with its arguments' types and intents
import pathlib
out = pathlib.Path(sys.argv[3])
procs = [n for n in public if re.search(rf"^[^!\n]*\b(subroutine|function|interface)\s+{n}\b", source, re.M | re.I)]
for n in procs:
    pages = [out / kind / f"{n}.html" for kind in ("proc", "interface")]
    page = next((p for p in pages if p.exists()), None)
    if page is None:
        sys.exit(f"docs: the Fortran reference has no page for public procedure {n}")
    text = page.read_text()
    if n != "hyb_last_error" and "intent(" not in text:
        sys.exit(f"docs: {page} lists no argument intents")
print(f"docs: {len(public)} public Fortran names documented, {len(procs)} procedure pages with argument types and intents")
PY

echo "docs: C ABI (Doxygen)"
doxygen docs/Doxyfile

echo "docs: Python (pdoc)"
mapfile -t public_files < <(python - "${PUBLIC_PYTHON[@]}" <<'PY'
import importlib.util, sys
for name in sys.argv[1:]:
    print(importlib.util.find_spec(name).origin)
PY
)
# D1xx: a public module, class, method or function without a docstring (D105 magic methods
# and D107 __init__ are documented in their class).
ruff check --select D100,D101,D102,D103,D104,D106 "${public_files[@]}"
pdoc --no-search -o "$out/python" "${PUBLIC_PYTHON[@]}"
echo "docs: docs/_build/{fortran,c,python}/index.html"
