# Sourced by the scripts in scripts/measure/ (not run): $work, a scratch
# directory; on exit the processes the script started in the background are
# stopped (and waited for) and $work is removed.
work=$(mktemp -d)
measure_cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap measure_cleanup EXIT
