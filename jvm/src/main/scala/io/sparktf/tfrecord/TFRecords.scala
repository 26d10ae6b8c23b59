package io.sparktf.tfrecord

import java.util.UUID

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import org.apache.hadoop.fs.{FileSystem, Path}
import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{DataFrame, Row, SparkSession}
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.types.{DataType, StructType}
import org.apache.spark.util.SerializableConfiguration

import io.sparktf.SparkTFException

/** DataFrame <-> TFRecord files of tf.train.Example, in the JVM: the files that
 *  `tf.data.TFRecordDataset` reads in InputMode.TENSORFLOW, and that TensorFlow writes for Spark.
 *
 *  Writing makes one `part-NNNNN.tfrecord` per partition, each row one Example with one feature
 *  per column (mapping in [[ExampleColumn]]: integers and booleans as int64_list, float and
 *  double as float_list (doubles stored as float32), string and binary as bytes_list, arrays as
 *  lists, ML vectors as dense float_lists; a null is an absent feature), and the schema in
 *  `_sparktf_schema.json` so reading back gives the exact schema. Files go through Hadoop's
 *  FileSystem: file://, hdfs://, ... Part files appear only when every task has succeeded.
 *
 *  Reading without a sidecar (files from TensorFlow) infers the schema from the first records;
 *  `binaryFeatures` says which bytes features are binary rather than UTF-8 strings.
 *
 *  {{{
 *  import io.sparktf.tfrecord.TFRecords
 *  TFRecords.write(df, "hdfs:///data/digits", "overwrite")
 *  val back = TFRecords.read(spark, "hdfs:///data/digits")   // back.schema == df.schema
 *  val theirs = TFRecords.read(spark, "/data/from_tf/\*.tfrecord", Seq("image"))
 *  }}}
 */
object TFRecords {
  val Modes: Seq[String] = Seq("error", "errorifexists", "overwrite", "append", "ignore")

  def write(df: DataFrame, path: String): Unit = write(df, path, "error", "none")

  def write(df: DataFrame, path: String, mode: String): Unit = write(df, path, mode, "none")

  /** Writes `df` under the folder `path`.
   *
   *  @param mode        error (or errorifexists): fail if `path` exists; overwrite: replace it;
   *                     append: add part files (the schema must match the sidecar's);
   *                     ignore: do nothing if `path` exists
   *  @param compression none, or gzip (`part-NNNNN.tfrecord.gz`)
   */
  def write(df: DataFrame, path: String, mode: String, compression: String): Unit = {
    val saveMode = Option(mode).getOrElse("error").toLowerCase
    if (!Modes.contains(saveMode)) throw new SparkTFException(
      s"mode '$mode' is unknown; use one of ${Modes.mkString(", ")}")
    val codec = TFRecordFiles.checkCompression(compression)
    // The columns are checked here, before any task runs.
    val encoder = new ExampleEncoder(df.schema)
    val sc = df.sparkSession.sparkContext
    val conf = sc.hadoopConfiguration
    val folder = new Path(path)
    val fs = TFRecordFiles.fileSystem(folder, conf)
    val (schema, first) = if (!fs.exists(folder)) (df.schema, 0)
    else saveMode match {
      case "error" | "errorifexists" => throw new SparkTFException(s"$path already exists: pass " +
          "mode 'overwrite' to replace it, 'append' to add to it or 'ignore' to keep it")
      case "ignore" => return
      case "overwrite" =>
        if (!fs.delete(folder, true)) {
          throw new SparkTFException(s"could not delete $path to overwrite it")
        }
        (df.schema, 0)
      case _ => // append
        (appendedSchema(fs, folder, df.schema), TFRecordFiles.list(fs, folder).size)
    }
    val tmp = new Path(new Path(folder, "_temporary"), UUID.randomUUID().toString)
    val tmpName = tmp.toString
    val hadoopConf = sc.broadcast(new SerializableConfiguration(conf))
    // A failed write into a folder it created leaves no folder: mode 'error' can try again.
    val fresh = !fs.exists(folder)
    var written = false
    try {
      val parts = sc.runJob(
        df.queryExecution.toRdd,
        (ctx: TaskContext, rows: Iterator[InternalRow]) => {
          val name = TFRecordFiles.partName(first + ctx.partitionId(), codec)
          // One file per attempt: a retried or speculative attempt never writes over another.
          val file = new Path(new Path(tmpName), s"$name-${ctx.taskAttemptId()}")
          val fileFs = TFRecordFiles.fileSystem(file, hadoopConf.value.value)
          val out = TFRecordFiles.create(fileFs, file, codec)
          try {
            val writer = new TFRecordWriter(out)
            rows.foreach(r => writer.write(encoder.encode(r)))
          } finally out.close()
          (name, file.toString)
        }
      )
      fs.mkdirs(folder)
      parts.foreach { case (name, file) =>
        if (!fs.rename(new Path(file), new Path(folder, name))) {
          throw new SparkTFException(s"could not move $file to ${new Path(folder, name)}")
        }
      }
      SchemaSidecar.write(fs, folder, schema)
      written = true
    } finally {
      hadoopConf.destroy()
      try {
        if (!written && fresh) fs.delete(folder, true)
        else fs.delete(new Path(folder, "_temporary"), true)
      } catch { case NonFatal(_) => }
    }
  }

  /** Appending needs the sidecar's column names and types; nullability becomes the union. */
  private def appendedSchema(fs: FileSystem, folder: Path, schema: StructType): StructType = {
    val existing = SchemaSidecar.read(fs, folder).getOrElse(throw new SparkTFException(
        s"$folder has no ${SchemaSidecar.FileName}: sparktf appends only to folders it wrote"))
    if (!DataType.equalsIgnoreNullability(existing, schema)) throw new SparkTFException(
      s"cannot append to $folder: its schema is ${existing.simpleString}, the DataFrame's is " +
        s"${schema.simpleString}")
    StructType(existing.fields.zip(schema.fields).map { case (a, b) =>
      a.copy(nullable = a.nullable || b.nullable)
    })
  }

  def read(spark: SparkSession, path: String): DataFrame = read(spark, path, None, Nil)

  def read(spark: SparkSession, path: String, schema: StructType): DataFrame =
    read(spark, path, Some(schema), Nil)

  def read(spark: SparkSession, path: String, binaryFeatures: Seq[String]): DataFrame =
    read(spark, path, None, binaryFeatures)

  /** Reads the TFRecord files at `path` (a folder, a file or a glob), one partition per file.
   *
   *  @param schema         the columns to read (features it does not name are skipped);
   *                        default: the folder's `_sparktf_schema.json`, else inferred from the
   *                        first records
   *  @param binaryFeatures bytes features to read as binary instead of UTF-8 strings
   */
  def read(spark: SparkSession, path: String, schema: Option[StructType],
      binaryFeatures: Seq[String]): DataFrame = {
    val sc = spark.sparkContext
    val conf = sc.hadoopConfiguration
    val root = new Path(path)
    val fs = TFRecordFiles.fileSystem(root, conf)
    val files = TFRecordFiles.list(fs, root)
    val folder = TFRecordFiles.folderOf(fs, root, files)
    val chosen = schema.orElse(SchemaSidecar.read(fs, folder)).getOrElse {
      SchemaInference.infer(sample(fs, files), binaryFeatures.toSet, path)
    }
    val resolved = SchemaInference.withBinary(chosen, binaryFeatures.toSet)
    val decoder = new ExampleDecoder(resolved)
    if (files.isEmpty) return spark.createDataFrame(sc.emptyRDD[Row], resolved)
    val hadoopConf = new SerializableConfiguration(conf)
    val rows: RDD[Row] = sc.parallelize(files.map(_.toString), files.size).mapPartitions { names =>
      names.flatMap { name =>
        val file = new Path(name)
        val in = TFRecordFiles.open(TFRecordFiles.fileSystem(file, hadoopConf.value), file)
        Option(TaskContext.get()).foreach(_.addTaskCompletionListener[Unit](_ => in.close()))
        new TFRecordReader(in, name).zipWithIndex.map { case (r, i) => decoder.decode(r, name, i) }
      }
    }
    spark.createDataFrame(rows, resolved)
  }

  /** For Python: `schema` as Spark JSON or DDL ("" for none). */
  def readJson(spark: SparkSession, path: String, schema: String,
      binaryFeatures: java.util.List[String]): DataFrame = {
    val parsed = Option(schema).filter(_.trim.nonEmpty).map { s =>
      try {
        if (s.trim.startsWith("{")) DataType.fromJson(s).asInstanceOf[StructType]
        else StructType.fromDDL(s)
      } catch {
        case NonFatal(e) => throw new SparkTFException(s"schema '$s' is neither a struct " +
              s"schema JSON nor DDL ('label int, features array<float>'): ${e.getMessage}", e)
      }
    }
    read(spark, path, parsed, binaryFeatures.asScala.toSeq)
  }

  private def sample(fs: FileSystem, files: Seq[Path]): Seq[Seq[(String, FeatureKind, Int)]] = {
    val out = Seq.newBuilder[Seq[(String, FeatureKind, Int)]]
    var taken = 0
    files.iterator.takeWhile(_ => taken < SchemaInference.SampleRecords).foreach { file =>
      val in = TFRecordFiles.open(fs, file)
      try {
        new TFRecordReader(in, file.toString).take(SchemaInference.SampleRecords - taken)
          .zipWithIndex.foreach { case (r, i) =>
            out += ExampleDecoder.describe(r, file.toString, i)
            taken += 1
          }
      } finally in.close()
    }
    out.result()
  }
}
