// Run by tests/test_spark_shell.py inside spark-shell: a Spark ML Pipeline (VectorAssembler ->
// TFEstimator) fits on two TensorFlow nodes, transforms, saves and loads, all from Scala.
import io.sparktf._
import io.sparktf.ml.{TFEstimator, TFModel}
import org.apache.spark.ml.{Pipeline, PipelineModel}
import org.apache.spark.ml.feature.VectorAssembler
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.functions._

object PipelineRun {
  def run(spark: SparkSession): Int = {
    val out = sys.env("SPARKTF_TEST_OUT")
    val df = spark.range(0, 600, 1, 3).
      select((rand(1) * 2 - 1).as("a"), (rand(2) * 2 - 1).as("b"), (rand(3) * 2 - 1).as("c"),
        (rand(4) * 2 - 1).as("d")).
      withColumn("label", expr("a - 2 * b + 0.5 * c + 3 * d")).
      cache()
    df.count()
    try {
      val est = new TFEstimator().
        setProgram(TFProgram.script(sys.env("SPARKTF_TEST_SCRIPT"), "main_fun")).
        setClusterSize(2).setEpochs(4).setExportDir(s"$out/export").setBatchSize(100).
        setInputMapping(Map("features" -> "x", "label" -> "y")).
        setOutputMapping(Map("score" -> "prediction")).
        setClusterConfig("""{"feed_timeout": 120, "reservation_timeout": 120}""")
      val pipeline = new Pipeline().setStages(Array(
        new VectorAssembler().setInputCols(Array("a", "b", "c", "d")).setOutputCol("features"),
        est))
      val model = pipeline.fit(df)
      model.transform(df).select("a", "b", "c", "d", "label", "prediction").
        coalesce(1).write.json(s"$out/predictions")
      model.write.overwrite().save(s"$out/pipeline_model")
      val loaded = PipelineModel.load(s"$out/pipeline_model")
      println(s"SPARKTF_LOADED_STAGE ${loaded.stages.last.getClass.getName}")
      loaded.transform(df).select("a", "b", "c", "d", "prediction").
        coalesce(1).write.json(s"$out/predictions_loaded")
      0
    } catch {
      case e: Throwable =>
        println(s"SPARKTF_ERROR $e")
        e.printStackTrace()
        1
    }
  }
}

val outcome = PipelineRun.run(spark)
spark.stop()
System.exit(outcome)
