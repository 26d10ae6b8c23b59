"""Where the sparktf jar is, for starting a SparkSession that has it."""

import glob
import os

_JAR_GLOB = "sparktf_2.13-*.jar"


def jar_path() -> str:
    """The sparktf assembly jar: ``$SPARKTF_JAR`` when set, else the one this package was
    loaded from (``--packages``), the one a wheel ships in ``sparktf/jars``, or a source
    checkout's build output.

    Example::

        spark = (SparkSession.builder.master("local-cluster[2,1,1024]")
                 .config("spark.jars", sparktf.jar_path()).getOrCreate())
    """
    chosen = os.environ.get("SPARKTF_JAR")
    if chosen:
        if not os.path.isfile(chosen):
            raise FileNotFoundError(f"SPARKTF_JAR is {chosen}, which is not a file")
        return chosen
    here = os.path.dirname(os.path.abspath(__file__))
    container = os.path.dirname(here)
    if container.endswith(".jar") and os.path.isfile(container):
        return container
    candidates = glob.glob(os.path.join(here, "jars", _JAR_GLOB))
    checkout = os.path.dirname(container)
    candidates += glob.glob(os.path.join(checkout, "target", "scala-2.13", _JAR_GLOB))
    if not candidates:
        raise FileNotFoundError(
            "no sparktf jar found next to the sparktf package or in target/scala-2.13: build it "
            "with scripts/build, or start Spark with --packages io.sparktf:sparktf_2.13:0.1.0"
        )
    return sorted(candidates)[-1]
