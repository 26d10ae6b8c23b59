package io.sparktf.ml

import org.apache.hadoop.fs.Path
import org.apache.spark.ml.Estimator
import org.apache.spark.ml.param.{IntParam, Param, ParamMap, ParamValidators}
import org.apache.spark.ml.util.{DefaultParamsReadable, DefaultParamsWritable, Identifiable}
import org.apache.spark.sql.{DataFrame, Dataset}
import org.apache.spark.sql.functions.{coalesce, col, lit, not}
import org.apache.spark.sql.types.{BooleanType, StructType}

import io.sparktf.{ClusterConfig, SparkTFException, TFCluster, TFProgram}

/** Distributed TensorFlow training as a Spark ML estimator: `fit` starts a cluster, feeds the
 *  DataFrame for `epochs`, shuts the cluster down, and returns a [[TFModel]] over the SavedModel
 *  the chief exported to `exportDir` (`ctx.export_dir` in the program).
 *  {{{
 *  val est = new TFEstimator().setProgram(TFProgram.script("train.py", "main_fun"))
 *    .setClusterSize(2).setEpochs(3).setExportDir("/tmp/export")
 *    .setInputMapping(Map("features" -> "x", "label" -> "y"))
 *  val model = est.fit(train)
 *  model.setInputMapping(Map("features" -> "x")).transform(test).show()
 *  }}}
 *
 *  A validation set: `setValidationIndicatorCol("isVal")` names a boolean column; its true
 *  rows are fed as `train()`'s validation DataFrame (`feed.validation_dataset(...)` on the
 *  nodes), the others as the training rows, and the column itself to neither (a null counts as
 *  false). A column, not a DataFrame held on the stage, because that is what Spark ML does
 *  (`GBTClassifier.validationIndicatorCol`): in a Pipeline only the fitted DataFrame flows
 *  through the earlier stages (a VectorAssembler), so the validation rows must travel in it;
 *  and a column name is a Param that saves and loads with the stage, where a DataFrame is not.
 *  What the nodes took, validation rows included, is the model's `feedReport`.
 *  {{{
 *  val model = est.setValidationIndicatorCol("isVal").fit(labelled)
 *  model.feedReport.validationRowsPerNode  // Map(chief:0 -> 50, worker:0 -> 50)
 *  }}}
 */
class TFEstimator(override val uid: String) extends Estimator[TFModel] with TFParams
    with DefaultParamsWritable {
  def this() = this(Identifiable.randomUID("TFEstimator"))

  final val program = new Param[String](this, "program",
    "the program every node runs, as TFProgram JSON (Python: the pickled main_fun and tf_args)")
  final val clusterSize = new IntParam(this, "clusterSize", "executors to run TensorFlow on",
    ParamValidators.gt(0))
  final val numPs = new IntParam(this, "numPs", "parameter servers among them",
    ParamValidators.gtEq(0))
  final val epochs = new IntParam(this, "epochs", "times the DataFrame is fed",
    ParamValidators.gt(0))
  final val clusterConfig = new Param[String](this, "clusterConfig",
    "JSON object of further TFCluster.run settings, TensorFlowOnSpark names (model_dir, " +
      "feed_timeout, tensorboard, ...)")
  final val validationIndicatorCol = new Param[String](
    this,
    "validationIndicatorCol",
    "boolean column: its true rows are fed as the validation DataFrame " +
      "(feed.validation_dataset), the others for training; unset: no validation set"
  )
  setDefault(numPs -> 0, epochs -> 1, clusterConfig -> "{}")

  def setProgram(p: TFProgram): this.type = set(program, TFProgram.toJson(p))
  def setClusterSize(v: Int): this.type = set(clusterSize, v)
  def setNumPs(v: Int): this.type = set(numPs, v)
  def setEpochs(v: Int): this.type = set(epochs, v)
  def setExportDir(v: String): this.type = set(exportDir, v)
  def setSignature(v: String): this.type = set(signature, v)
  def setBatchSize(v: Int): this.type = set(batchSize, v)
  def setPython(v: String): this.type = set(python, v)
  def setClusterConfig(json: String): this.type = set(clusterConfig, json)
  def setValidationIndicatorCol(v: String): this.type = set(validationIndicatorCol, v)
  def setInputMapping(m: Map[String, String]): this.type = set(inputMapping, TFParams.toJson(m))
  def setOutputMapping(m: Map[String, String]): this.type = set(outputMapping, TFParams.toJson(m))

  /** The cluster settings: clusterConfig, then this stage's own params over it. */
  private def config(): ClusterConfig = {
    val mapper = new com.fasterxml.jackson.databind.ObjectMapper()
    val node =
      mapper.readTree($(clusterConfig)).asInstanceOf[com.fasterxml.jackson.databind.node.ObjectNode]
    node.put("num_executors", $(clusterSize)).put("num_ps", $(numPs))
      .put("export_dir", $(exportDir)).put("input_mode", "SPARK")
    if ($(python).nonEmpty) node.put("python", $(python))
    ClusterConfig.fromJson(mapper.writeValueAsString(node))
  }

  override def fit(dataset: Dataset[_]): TFModel = {
    Seq(program, clusterSize, exportDir).foreach { p =>
      if (!isDefined(p)) throw new SparkTFException(s"TFEstimator needs ${p.name}: ${p.doc}")
    }
    transformSchema(dataset.schema)
    val (df, validationDf) = split(dataset.toDF())
    val spark = df.sparkSession
    val cluster = TFCluster.run(spark, TFProgram.fromJson($(program)), config())
    val report =
      try cluster.train(df, $(epochs), inputPairs, validationDf = validationDf)
      catch {
        case e: Throwable =>
          try cluster.shutdown()
          catch { case s: Throwable => e.addSuppressed(s) }
          throw e
      }
    cluster.shutdown()
    val exported = new Path($(exportDir), "saved_model.pb")
    if (!exported.getFileSystem(spark.sparkContext.hadoopConfiguration).exists(exported)) {
      throw new SparkTFException(s"training ended but nothing was exported to '${$(exportDir)}': " +
        "the chief must save a SavedModel to ctx.export_dir " +
        "(sparktf.program.export.export_model(model, ctx), or model.export(ctx.export_dir) in " +
        "Keras 3)")
    }
    val model = copyValues(new TFModel(uid + "_model")).setParent(this)
    model.fitReport = Some(report)
    model
  }

  /** The training rows and, with `validationIndicatorCol`, the validation rows; neither keeps
   *  the indicator column. */
  private def split(df: DataFrame): (DataFrame, Option[DataFrame]) =
    if (!isDefined(validationIndicatorCol)) (df, None)
    else {
      val c = $(validationIndicatorCol)
      val isValidation = coalesce(col(c), lit(false))
      (df.filter(not(isValidation)).drop(c), Some(df.filter(isValidation).drop(c)))
    }

  override def transformSchema(schema: StructType): StructType = {
    inputPairs.foreach { case (column, _) =>
      if (!schema.fieldNames.contains(column)) throw new SparkTFException(
        s"inputMapping names column '$column', which the DataFrame lacks; it has: " +
          schema.fieldNames.mkString(", "))
    }
    if (isDefined(validationIndicatorCol)) {
      val c = $(validationIndicatorCol)
      schema.fields.find(_.name == c) match {
        case Some(f) if f.dataType == BooleanType =>
        case Some(f) => throw new SparkTFException(s"validationIndicatorCol '$c' is " +
            s"${f.dataType.simpleString}: it must be boolean (true: a validation row)")
        case None => throw new SparkTFException(s"validationIndicatorCol names column '$c', " +
            "which the DataFrame lacks; it has: " + schema.fieldNames.mkString(", "))
      }
    }
    schema
  }

  override def copy(extra: ParamMap): TFEstimator = defaultCopy(extra)
}

object TFEstimator extends DefaultParamsReadable[TFEstimator] {
  override def load(path: String): TFEstimator = super.load(path)
}
