#!/bin/sh
# Time the stages of a make target, and say at the end how long each took, so that the
# next slowdown is seen when it happens.
#   scripts/stage.sh FILE NAME CMD...   run CMD as stage NAME, its time appended to FILE;
#                                       when it fails, the times so far, then its status
#   scripts/stage.sh --report FILE      the times in FILE, and the wall time from the
#                                       first stage's start to the last one's end (stages
#                                       may run alongside each other)
set -u

report() {
	awk -F'\t' '
		{
			printf "  %-28s %4d min %02d s  %s\n", $1, $2 / 60, $2 % 60, $3
			if (NR == 1 || $4 < first) first = $4
			if ($5 > last) last = $5
			sum += $2
		}
		END {
			wall = last - first
			printf "  %-28s %4d min %02d s", "total (wall clock)", wall / 60, wall % 60
			if (sum > wall + 1)
				printf "  (%d min %02d s of it ran alongside)", (sum - wall) / 60, (sum - wall) % 60
			printf "\n"
		}' "$1"
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
	printf '%s\t%d\tok\t%d\t%d\n' "$name" $((end - start)) $start $end >> "$file"
else
	printf '%s\t%d\tfailed (exit %d)\t%d\t%d\n' "$name" $((end - start)) $status $start $end >> "$file"
	echo "stages:"
	report "$file"
fi
exit $status
