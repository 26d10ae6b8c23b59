package io.sparktf.ml

import scala.jdk.CollectionConverters._

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.sql.types._

import io.sparktf.SparkTFException
import io.sparktf.proto.v1.{TfSavedModel, TfTensorInfo}

/** One tensor of a signature: TensorFlow dtype number and dims (-1 unknown; None: any rank). */
final case class TensorSpec(name: String, dtype: Int, dims: Option[Seq[Long]]) {
  def dtypeName: String = SavedModelSignature.DTypeNames.getOrElse(dtype, s"dtype $dtype")
  def rank: Option[Int] = dims.map(_.size)
  def describe: String = s"$dtypeName${dims.map(_.map(d => if (d < 0) "?" else d.toString)
        .mkString("[", ", ", "]")).getOrElse("[...]")}"

  /** The Spark type of an output column holding this tensor, row by row: rank 1 (or [?, 1])
   *  is one value a row, higher ranks an array a row (flattened). */
  def sparkType: Option[DataType] = {
    val element: Option[DataType] = dtype match {
      case 1 => Some(FloatType)
      case 2 => Some(DoubleType)
      case 3 => Some(IntegerType)
      case 9 => Some(LongType)
      case 10 => Some(BooleanType)
      case 6 => Some(ByteType)
      case 5 => Some(ShortType)
      case 7 => Some(StringType)
      case _ => None
    }
    element.flatMap { e =>
      val scalarRow = dims.exists(d => d.size <= 1 || (d.size == 2 && d(1) == 1))
      if (scalarRow) Some(e)
      else if (e == StringType) None
      else Some(ArrayType(e, containsNull = false))
    }
  }
}

/** The inputs and outputs of one signature of a SavedModel, read from its `saved_model.pb`
 *  through Hadoop's FileSystem (so hdfs://, s3a:// and local paths all work).
 *  {{{
 *  val sig = SavedModelSignature.read("/tmp/export", "serving_default", spark.sparkContext.hadoopConfiguration)
 *  sig.inputs.keys.foreach(println)
 *  }}}
 */
final case class SavedModelSignature(exportDir: String, name: String,
    inputs: Map[String, TensorSpec], outputs: Map[String, TensorSpec], version: String)

object SavedModelSignature {
  val DTypeNames: Map[Int, String] = Map(1 -> "float32", 2 -> "float64", 3 -> "int32",
    4 -> "uint8", 5 -> "int16", 6 -> "int8", 7 -> "string", 9 -> "int64", 10 -> "bool",
    19 -> "float16", 14 -> "bfloat16")

  def read(exportDir: String, signature: String, conf: Configuration): SavedModelSignature = {
    val file = new Path(exportDir, "saved_model.pb")
    val fs = file.getFileSystem(conf)
    if (!fs.exists(file)) {
      throw new SparkTFException(
        s"no SavedModel at '$exportDir': it has no saved_model.pb (export " +
          "the model there with sparktf.program.export.export_model, model.export() or " +
          "tf.saved_model.save)")
    }
    val status = fs.getFileStatus(file)
    val in = fs.open(file)
    val model =
      try TfSavedModel.parseFrom(in)
      finally in.close()
    val signatures = model.getMetaGraphsList.asScala.flatMap(_.getSignatureDefMap.asScala).toMap
    val sig = signatures.getOrElse(
      signature,
      throw new SparkTFException(
        s"the SavedModel at '$exportDir' has no signature '$signature'; it has " +
          signatures.keys.toSeq.sorted.mkString(", "))
    )
    def specs(m: java.util.Map[String, TfTensorInfo]) = m.asScala.map { case (k, t) =>
      val shape = t.getTensorShape
      k -> TensorSpec(k, t.getDtype,
        if (shape.getUnknownRank) None else Some(shape.getDimList.asScala.map(_.getSize).toSeq))
    }.toMap
    SavedModelSignature(exportDir, signature, specs(sig.getInputsMap), specs(sig.getOutputsMap),
      s"${status.getModificationTime}-${status.getLen}")
  }
}
