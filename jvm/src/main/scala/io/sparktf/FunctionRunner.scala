package io.sparktf

import org.apache.spark.sql.SparkSession

/** Runs one program on N barrier slots, each with its TF_CONFIG and no data feed, and returns
 *  what the chief's program returned: [[TFCluster.runFunction]] (Python: `sparktf.run(fn, n)`),
 *  the successor of TensorFlowOnSpark's `TFParallel.run` and spark-tensorflow-distributor's
 *  `MirroredStrategyRunner(num_slots=n).run(fn)`.
 *
 *  It is an InputMode.TENSORFLOW cluster whose chief (worker:0 without one) cloudpickles its
 *  return value into its working directory; the chief's barrier task hands the bytes to the
 *  driver as its task result. Start, failures and restarts are the cluster's: a node that fails
 *  fails the run naming it, with its traceback, and every node is stopped.
 *  {{{
 *  val pickled: Array[Byte] = TFCluster.runFunction(spark,
 *    TFProgram.script("train.py", "main_fun"), ClusterConfig(numExecutors = 2))
 *  }}}
 */
object FunctionRunner {

  /** The default bound of the chief's pickled return value: it travels as a task result. */
  val DefaultMaxResultBytes: Long = 64L << 20

  def run(spark: SparkSession, program: TFProgram, config: ClusterConfig,
      maxResultBytes: Long): Array[Byte] = {
    if (maxResultBytes < 1) {
      throw new SparkTFException(s"max_result_bytes is $maxResultBytes: use 1 or more")
    }
    val cluster = TFCluster.run(spark, program,
      config.copy(inputMode = InputMode.TENSORFLOW, maxResultBytes = maxResultBytes))
    // shutdown waits (shutdown_timeout) for every program and throws, naming the node, if any
    // failed; after it the chief's task result holds the value.
    cluster.shutdown()
    cluster.programResults.flatMap(_.result).headOption.getOrElse(
      throw new SparkTFException(s"cluster ${cluster.clusterId}: the programs ended but no " +
        "node returned the chief's value"))
  }
}
