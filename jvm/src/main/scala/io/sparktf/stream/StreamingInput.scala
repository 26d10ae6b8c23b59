package io.sparktf.stream

import org.apache.spark.sql.Dataset

import io.sparktf.SparkTFException

/** The calls that run Spark jobs over a DataFrame's rows themselves (`train()`, `inference()`,
 *  `TFModel.transform`) cannot take a streaming DataFrame: Spark runs a stream only through
 *  `writeStream...start()`. Each micro-batch of `foreachBatch` is a batch DataFrame they take.
 *  {{{
 *  StreamingInput.refuse(df, "inference()", "inference() on each micro-batch in foreachBatch")
 *  }}}
 */
object StreamingInput {
  def refuse(df: Dataset[_], call: String, instead: String): Unit = if (df.isStreaming) {
    throw new SparkTFException(s"$call takes a batch DataFrame, and this one is streaming " +
      s"(spark.readStream...): Spark runs a stream only as a query (writeStream...start()). " +
      s"Use $instead, e.g. df.writeStream.foreachBatch((batch, id) => ...).start(): each " +
      "micro-batch is a batch DataFrame, scored in order with its row count kept")
  }
}
