#!/bin/bash
# Submit a gradscope sweep to Slurm: the array job of N shards, then the merge, which starts only
# once every element has succeeded (afterok). Usage: PRESET=tour SHARDS=4 examples/slurm/submit.sh
set -euo pipefail
here=$(dirname "$0")
SHARDS=${SHARDS:-4}
export PRESET=${PRESET:-tour} SWEEP_DIR=${SWEEP_DIR:-$HOME/gradscope-sweep}

array=$(sbatch --parsable --array=0-$((SHARDS - 1)) --export=ALL "$here/sweep.sbatch")
sbatch --dependency=afterok:"${array%%;*}" --export=ALL,SHARDS="$SHARDS" "$here/merge.sbatch"
