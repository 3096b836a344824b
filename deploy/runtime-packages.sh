#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries the given binaries load, one a
# line, sorted: the runtime stage of deploy/Dockerfile installs exactly these. Libraries found
# under the directories in OQ_OWN_LIB_DIRS (colon-separated: our own, copied with the binaries)
# are skipped. Fails naming the library when one is missing or no installed package owns it.
# A binary that is not dynamically linked (a static Go build) needs nothing.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: runtime-packages.sh BINARY..." >&2; exit 2; }
IFS=: read -r -a own <<<"${OQ_OWN_LIB_DIRS:-}"

declare -A needed_by=()
for bin in "$@"; do
  [ -x "$bin" ] || { echo "runtime-packages: $bin: not an executable" >&2; exit 1; }
  if ! out=$(ldd "$bin" 2>&1); then
    case "$out" in *"not a dynamic executable"*) continue ;; esac
    echo "runtime-packages: ldd $bin: $out" >&2; exit 1
  fi
  while read -r line; do
    case "$line" in
      *"=> not found"*) echo "runtime-packages: $bin needs ${line%% *}, which is not found" >&2; exit 1 ;;
      *"=> /"*) lib=$(awk '{print $3}' <<<"$line") ;;
      /*) lib=$(awk '{print $1}' <<<"$line") ;;   # the dynamic loader itself
      *) continue ;;                               # linux-vdso
    esac
    skip=0
    for d in "${own[@]}"; do [ -n "$d" ] && [[ "$lib" == "$d"/* ]] && skip=1; done
    [ $skip -eq 1 ] || needed_by[$lib]=$bin
  done <<<"$out"
done
[ ${#needed_by[@]} -gt 0 ] || exit 0

# One dpkg query for every library under each of its names (merged /usr: /lib and /usr/lib
# are the same directory, but dpkg knows a file under one of them only).
declare -A candidates=()
for lib in "${!needed_by[@]}"; do
  real=$(readlink -f "$lib")
  for c in "$lib" "$real" "/usr$lib" "${lib#/usr}" "/usr$real" "${real#/usr}"; do candidates[$c]=1; done
done
declare -A owner_of=()
while IFS= read -r line; do
  pkg=${line%%: *}; path=${line#*: }
  owner_of[$path]=${pkg%%:*}   # drop the :arch qualifier
done < <(dpkg-query -S "${!candidates[@]}" 2>/dev/null || true)

declare -A pkgs=()
for lib in "${!needed_by[@]}"; do
  real=$(readlink -f "$lib")
  found=""
  for c in "$lib" "$real" "/usr$lib" "${lib#/usr}" "/usr$real" "${real#/usr}"; do
    if [ -n "${owner_of[$c]:-}" ]; then found=${owner_of[$c]}; break; fi
  done
  [ -n "$found" ] || { echo "runtime-packages: no installed package owns $lib (needed by ${needed_by[$lib]})" >&2; exit 1; }
  pkgs[$found]=1
done
printf '%s\n' "${!pkgs[@]}" | sort
