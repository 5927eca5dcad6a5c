#!/usr/bin/env bash
# `make web`'s last step: the playground as one page. Each `<link rel="stylesheet" href=...>`
# and `<script src=...></script>` line of the page is replaced by the file it names, inlined
# from DIR (the stylesheet, the module's no-modules bindings, samples.js, app.js), so the
# module is the page's only other request.
# Usage: scripts/web-page.sh INDEX.html DIR OUT.html
set -euo pipefail
index=${1:?usage: $0 INDEX.html DIR OUT.html}
dir=${2:?usage: $0 INDEX.html DIR OUT.html}
out=${3:?usage: $0 INDEX.html DIR OUT.html}

cp web/style.css web/samples.js web/app.js "$dir/"
# An inlined file must not close its own tag early.
if grep -il '</script\|</style' "$dir"/*.js "$dir"/*.css; then
  echo "web-page: a file above holds </script> or </style>; it cannot be inlined" >&2
  exit 1
fi
awk -v dir="$dir" '
  function inline(file, tag,   line, n) {
    print "  <" tag ">"
    while ((n = (getline line < (dir "/" file))) > 0) print line
    if (n < 0) { print "web-page: cannot read " dir "/" file > "/dev/stderr"; exit 1 }
    close(dir "/" file); print "  </" tag ">"
  }
  /^ *<link rel="stylesheet" href="[^"]*"> *$/ { split($0, a, "\""); inline(a[4], "style"); next }
  /^ *<script src="[^"]*"><\/script> *$/ { split($0, a, "\""); inline(a[2], "script"); next }
  { print }' "$index" >"$out"
if grep -n '<script src=\|rel="stylesheet"' "$out"; then
  echo "web-page: a line above was not inlined" >&2
  exit 1
fi
