#!/usr/bin/env bash
# Lints the Dockerfile: with hadolint when it is installed, otherwise with
# the checks below (the hadolint rules that matter for this image).
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-Dockerfile}"

if command -v hadolint >/dev/null; then
    exec hadolint "$file"
fi

fail=0
err() { echo "$file:$1: $2" >&2; fail=1; }

# Join continuation lines, keeping the number of each instruction's first line.
joined=$(awk '
    /^[[:space:]]*#/ || /^[[:space:]]*$/ { if (!cont) next }
    { if (!cont) start = NR; line = line $0
      if (sub(/\\[[:space:]]*$/, "", line)) { cont = 1; next }
      print start "\t" line; line = ""; cont = 0 }
' "$file")

known="FROM RUN CMD LABEL EXPOSE ENV ADD COPY ENTRYPOINT VOLUME USER WORKDIR ARG ONBUILD STOPSIGNAL HEALTHCHECK SHELL"
first=""
stages=""
while IFS=$'\t' read -r n line; do
    instr=$(echo "$line" | awk '{print toupper($1)}')
    args=${line#* }
    [ -z "$first" ] && first=$instr
    case " $known " in *" $instr "*) ;; *) err "$n" "unknown instruction '$instr'" ;; esac
    case "$instr" in
    FROM)
        image=$(echo "$args" | awk '{print $1}')
        stage=$(echo "$args" | awk 'toupper($2) == "AS" {print $3}')
        case " $stages " in *" $image "*) ;; *)
            case "$image" in
            *:latest) err "$n" "DL3007: pin a tag instead of latest ($image)" ;;
            *:* | *@*) ;;
            scratch) ;;
            *) err "$n" "DL3006: always tag the image ($image)" ;;
            esac ;;
        esac
        [ -n "$stage" ] && stages="$stages $stage" ;;
    RUN)
        if echo "$args" | grep -q 'apt-get install'; then
            echo "$args" | grep -q -- '--no-install-recommends' || err "$n" "DL3015: apt-get install without --no-install-recommends"
            echo "$args" | grep -q -- ' -y\| --yes\| -qq' || err "$n" "DL3014: apt-get install without -y"
            echo "$args" | grep -q 'rm -rf /var/lib/apt/lists' || err "$n" "DL3009: delete the apt lists after installing"
        fi
        echo "$args" | grep -q '^cd \|&& *cd ' && err "$n" "DL3003: use WORKDIR instead of cd"
        echo "$args" | grep -qw 'sudo' && err "$n" "DL3004: do not use sudo" ;;
    CMD | ENTRYPOINT)
        echo "$args" | grep -q '^\[' || err "$n" "DL3025: use the JSON form for $instr" ;;
    ADD)
        err "$n" "DL3020: use COPY instead of ADD for files" ;;
    WORKDIR)
        case "$args" in /* | \$*) ;; *) err "$n" "DL3000: use an absolute WORKDIR" ;; esac ;;
    esac
done <<< "$joined"
[ "$first" = FROM ] || [ "$first" = ARG ] || err 1 "the first instruction must be FROM"
exit $fail
