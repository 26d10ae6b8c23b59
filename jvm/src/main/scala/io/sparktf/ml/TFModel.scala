package io.sparktf.ml

import org.apache.hadoop.fs.{FileUtil, Path}
import org.apache.spark.TaskContext
import org.apache.spark.ml.Model
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.ml.sparktf.ParamsIO
import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader, MLWritable, MLWriter}
import org.apache.spark.sql.{DataFrame, Dataset, SparkSession}
import org.apache.spark.sql.sparktf.InternalFrames
import org.apache.spark.sql.types.StructType

import io.sparktf.{FeedReport, SparkTFException}
import io.sparktf.infer.InferenceCall
import io.sparktf.node.NodeLauncher
import io.sparktf.proto.v1.InferStart
import io.sparktf.rpc.NodeChannels

/** A SavedModel as a Spark ML transformer: appends the signature's outputs to each row.
 *
 *  Each executor runs one model server process that loads the model once and serves every task
 *  of every job on that executor (until the model's files change or the executor ends); rows
 *  stream to it and answers stream back, in order.
 *  {{{
 *  val model = new TFModel().setExportDir("/tmp/export")
 *    .setInputMapping(Map("features" -> "dense_input")).setOutputMapping(Map("dense_1" -> "scores"))
 *  model.transform(df).select("scores").show()
 *  }}}
 */
class TFModel(override val uid: String) extends Model[TFModel] with TFParams with MLWritable {
  def this() = this(Identifiable.randomUID("TFModel"))

  @transient private[ml] var fitReport: Option[FeedReport] = None

  /** What the [[TFEstimator]] fit that made this model fed (rows per node, validation rows per
   *  node, restarts), as Spark ML's training summaries: kept in memory, not saved. */
  def feedReport: FeedReport = fitReport.getOrElse(throw new SparkTFException(
      "this TFModel has no feed report: only the model a TFEstimator fit returns has one (it " +
        "is not saved with the model)"))
  def hasFeedReport: Boolean = fitReport.nonEmpty

  /** [[feedReport]] as JSON, the keys of `cluster.train`'s report in Python. */
  def feedReportJson: String = feedReport.toJson

  def setExportDir(v: String): this.type = set(exportDir, v)
  def setSignature(v: String): this.type = set(signature, v)
  def setBatchSize(v: Int): this.type = set(batchSize, v)
  def setPython(v: String): this.type = set(python, v)
  def setInputMapping(m: Map[String, String]): this.type = set(inputMapping, TFParams.toJson(m))
  def setOutputMapping(m: Map[String, String]): this.type = set(outputMapping, TFParams.toJson(m))
  def setInputMapping(m: java.util.Map[String, String]): this.type = {
    import scala.jdk.CollectionConverters._
    setInputMapping(m.asScala.toMap)
  }
  def setOutputMapping(m: java.util.Map[String, String]): this.type = {
    import scala.jdk.CollectionConverters._
    setOutputMapping(m.asScala.toMap)
  }

  private def signatureOf(spark: SparkSession): SavedModelSignature =
    SavedModelSignature.read($(exportDir), $(signature), spark.sparkContext.hadoopConfiguration)

  private def plan(schema: StructType, spark: SparkSession): (ModelPlan, SavedModelSignature) = {
    if (!isDefined(exportDir)) {
      throw new io.sparktf.SparkTFException("TFModel needs exportDir: the SavedModel's directory")
    }
    val sig = signatureOf(spark)
    (ModelPlan(schema, sig, inputPairs, outputPairs), sig)
  }

  override def transformSchema(schema: StructType): StructType =
    plan(schema, SparkSession.active)._1.outputSchema

  override def transform(dataset: Dataset[_]): DataFrame = {
    io.sparktf.stream.StreamingInput.refuse(dataset, "TFModel.transform",
      "transform() on each micro-batch in foreachBatch")
    val df = dataset.toDF()
    val spark = df.sparkSession
    val (p, sig) = plan(df.schema, spark)
    val key = ModelKey(sig.exportDir, sig.name, sig.version)
    val py = Option($(python)).filter(_.nonEmpty)
      .getOrElse(NodeLauncher.pythonExecutable(spark.sparkContext.getConf))
    val (batch, startSecs, idleSecs) = ($(batchSize), $(startTimeout), $(idleTimeout))
    val transformId = java.util.UUID.randomUUID().toString
    val out = df.queryExecution.toRdd.mapPartitionsWithIndex { (i, input) =>
      // Loopback only: the server answers this executor's tasks and nobody else.
      val server = ModelServers.acquire(key, py, "127.0.0.1", startSecs)
      Option(TaskContext.get()).foreach(_.addTaskCompletionListener[Unit](_ =>
          ModelServers.release(server)))
      val start = InferStart.newBuilder().setInferenceId(transformId).setPartition(i)
      p.results.foreach(r => start.addOutputs(r.spec))
      new InferenceCall(
        NodeChannels.get(server.host, server.port, server.secret),
        start.build(),
        p.columns,
        p.results,
        s"model server pid ${server.pid}",
        i,
        batch,
        idleSecs,
        sharedDir = server.sharedDir.map(_.toString)
      ).run(input)
    }
    InternalFrames.create(spark, out, p.outputSchema)
  }

  override def copy(extra: ParamMap): TFModel =
    copyValues(new TFModel(uid), extra).setParent(parent)

  override def write: MLWriter = new TFModel.Writer(this)
}

object TFModel extends MLReadable[TFModel] {

  /** Where a saved TFModel keeps its own copy of the SavedModel. */
  val SavedModelDir = "savedmodel"

  private class Writer(model: TFModel) extends MLWriter {
    override protected def saveImpl(path: String): Unit = {
      ParamsIO.save(model, path, sparkSession)
      val conf = sparkSession.sparkContext.hadoopConfiguration
      val src = new Path(model.getExportDir)
      val dst = new Path(path, SavedModelDir)
      FileUtil.copy(src.getFileSystem(conf), src, dst.getFileSystem(conf), dst, false, conf)
    }
  }

  private class Reader extends MLReader[TFModel] {
    override def load(path: String): TFModel = {
      val model = ParamsIO.load(path, sparkSession, classOf[TFModel].getName, new TFModel(_))
      model.setExportDir(new Path(path, SavedModelDir).toString)
    }
  }

  override def read: MLReader[TFModel] = new Reader
  override def load(path: String): TFModel = super.load(path)
}
