#!/bin/sh
# Time the stages of a make target, and say at the end how long each took, so that the
# next slowdown is seen when it happens.
#   scripts/stage.sh FILE NAME CMD...   run CMD as stage NAME, its time appended to FILE;
#                                       when it fails, the times so far, then its status
#   scripts/stage.sh --report FILE      the times in FILE, and their total
set -u

report() {
	awk -F'\t' '
		{ printf "  %-28s %4d min %02d s  %s\n", $1, $2 / 60, $2 % 60, $3; total += $2 }
		END { printf "  %-28s %4d min %02d s\n", "total", total / 60, total % 60 }' "$1"
}

if [ "${1:-}" = "--report" ]; then
	echo "stages:"
	report "$2"
	exit 0
fi
file=$1 name=$2
shift 2
start=$(date +%s)
"$@"
status=$?
end=$(date +%s)
if [ $status -eq 0 ]; then
	printf '%s\t%d\tok\n' "$name" $((end - start)) >> "$file"
else
	printf '%s\t%d\tfailed (exit %d)\n' "$name" $((end - start)) $status >> "$file"
	echo "stages:"
	report "$file"
fi
exit $status
