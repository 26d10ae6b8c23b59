#!/usr/bin/env bash
# A fake GPU discovery script for tests/test_gpu_binding.py: each local-cluster worker "has" two
# GPUs, the first worker to ask 0 and 1, the next 2 and 3, so nodes on different workers differ.
# SPARKTF_TEST_GPU_STATE names an empty directory that remembers who asked first.
set -euo pipefail
state="${SPARKTF_TEST_GPU_STATE:?set SPARKTF_TEST_GPU_STATE to an empty directory}"
if mkdir "$state/first" 2>/dev/null; then
  echo '{"name": "gpu", "addresses": ["0", "1"]}'
else
  echo '{"name": "gpu", "addresses": ["2", "3"]}'
fi
