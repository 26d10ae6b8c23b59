// Run by tests/test_spark_shell.py inside spark-shell: the Scala API trains a TensorFlow program
// on two nodes, fed from a DataFrame built in Scala. (An object, so the REPL reads it whole.)
import io.sparktf._
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.functions._

object TrainLinear {
  def run(spark: SparkSession): Int = {
    val df = spark.range(0, 4000, 1, 2).
      select(array((rand(1) * 2 - 1).cast("float"), (rand(2) * 2 - 1).cast("float")).as("x")).
      withColumn("y", expr("CAST(x[0] + x[1] > 0 AS INT)")).
      cache()
    val rows = df.count()
    val program = TFProgram.script(sys.env("SPARKTF_TEST_SCRIPT"), "main_fun",
      Map("result_dir" -> sys.env("SPARKTF_TEST_OUT")))
    try {
      val cluster = TFCluster.run(spark, program, numExecutors = 2)
      val report = try cluster.train(df, numEpochs = 3) finally cluster.shutdown()
      println(s"SPARKTF_ROWS $rows")
      println(s"SPARKTF_REPORT ${report.toJson}")
      0
    } catch {
      case e: Throwable =>
        println(s"SPARKTF_ERROR $e")
        e.printStackTrace()
        1
    }
  }
}

val outcome = TrainLinear.run(spark)
spark.stop()
System.exit(outcome)
