package io.sparktf

/** How data reaches the TensorFlow nodes.
 *
 *  - `SPARK`: the driver feeds DataFrames to the nodes with [[TFCluster.train]]; nodes outlive
 *    the reservation and wait for data.
 *  - `TENSORFLOW`: the nodes read their own files (TFRecord, Parquet); sparktf only runs the
 *    cluster, and [[TFCluster.shutdown]] waits for the program to return.
 */
object InputMode extends Enumeration {
  type InputMode = Value
  val SPARK, TENSORFLOW = Value

  /** Parses a name, any case: `InputMode.parse("spark") == InputMode.SPARK`. */
  def parse(
      name: String): InputMode = values.find(_.toString.equalsIgnoreCase(name.trim)).getOrElse(
    throw new SparkTFException(
      s"input mode '$name' is unknown: use one of ${values.mkString(", ")}"))

  /** The contract's enum (`InputMode` of proto/sparktf/v1/cluster_settings.proto): same names. */
  def toProto(mode: InputMode): io.sparktf.proto.v1.InputMode =
    io.sparktf.proto.v1.InputMode.valueOf(mode.toString)

  def fromProto(mode: io.sparktf.proto.v1.InputMode): InputMode = parse(mode.name)
}
