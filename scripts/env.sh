# Sourced by every script: where the toolchain lives. Everything is created by scripts/setup.
SPARKTF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPARKTF_CACHE="${SPARKTF_CACHE:-$HOME/.cache/sparktf}"
_req_hash="$(sha256sum "$SPARKTF_ROOT/scripts/requirements.txt" | cut -c1-12)"
SPARKTF_VENV="${SPARKTF_VENV:-$SPARKTF_CACHE/venv-$_req_hash}"
SPARKTF_PYTHON="$SPARKTF_VENV/bin/python"
SPARKTF_VERSION="0.1.0"
SPARKTF_JAR="$SPARKTF_ROOT/target/scala-2.13/sparktf_2.13-$SPARKTF_VERSION.jar"
SPARKTF_M2="${SPARKTF_M2:-$SPARKTF_CACHE/m2}"
export SPARKTF_ROOT SPARKTF_CACHE SPARKTF_VENV SPARKTF_PYTHON SPARKTF_JAR SPARKTF_M2 SPARKTF_VERSION
if [ -x "$SPARKTF_PYTHON" ]; then
  SPARK_HOME="$("$SPARKTF_VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null || true)"
  export SPARK_HOME
fi
# Nodes and Spark's Python workers use the same interpreter as the driver.
export PYSPARK_PYTHON="$SPARKTF_PYTHON" PYSPARK_DRIVER_PYTHON="$SPARKTF_PYTHON"
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
