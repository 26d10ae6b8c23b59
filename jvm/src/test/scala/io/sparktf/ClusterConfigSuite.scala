package io.sparktf

import org.scalatest.funsuite.AnyFunSuite

class ClusterConfigSuite extends AnyFunSuite {
  test("reads TensorFlowOnSpark's names") {
    val c = ClusterConfig.fromJson("""{"num_executors": 3, "num_ps": 1, "input_mode": "TENSORFLOW",
      "master_node": null, "eval_node": true, "model_dir": "/m", "env": {"A": "1"}}""")
    assert(c == ClusterConfig(3, 1, InputMode.TENSORFLOW, None, evalNode = true,
      modelDir = Some("/m"), env = Map("A" -> "1")))
  }

  test("defaults: a chief, InputMode.SPARK") {
    val c = ClusterConfig.fromJson("""{"num_executors": 2}""")
    assert(c.masterNode.contains("chief") && c.inputMode == InputMode.SPARK)
  }

  test("GPU and TensorBoard options: off by default") {
    val d = ClusterConfig.fromJson("""{"num_executors": 2}""")
    assert(!d.psGpus && !d.tensorboard && d.logDir.isEmpty)
    val c = ClusterConfig.fromJson(
      """{"num_executors": 2, "ps_gpus": true, "tensorboard": true, "log_dir": "/l"}""")
    assert(c.psGpus && c.tensorboard && c.logDir.contains("/l"))
  }

  test("unknown settings and bad values say what to change") {
    assert(
      intercept[SparkTFException](ClusterConfig.fromJson("""{"num_executors": 2, "nmu_ps": 1}"""))
        .getMessage.contains("'nmu_ps'"))
    assert(intercept[SparkTFException](ClusterConfig.fromJson("""{"num_ps": 1}"""))
        .getMessage.contains("num_executors is required"))
    assert(intercept[SparkTFException](ClusterConfig.fromJson(
          """{"num_executors": 2, "input_mode": "files"}""")).getMessage.contains("'files'"))
    assert(intercept[SparkTFException](ClusterConfig(2, feedTimeout = 0).validate())
        .getMessage.contains("feed_timeout"))
  }

  test("checkpoint location: checkpoint_dir (under model_dir if relative), else model_dir/...") {
    assert(ClusterConfig(2).checkpointLocation.isEmpty)
    assert(ClusterConfig(2, modelDir = Some("/m/")).checkpointLocation.contains("/m/checkpoints"))
    assert(ClusterConfig(2, modelDir = Some("hdfs://nn/m"), checkpointDir = Some("c"))
        .checkpointLocation.contains("hdfs://nn/m/c"))
    assert(ClusterConfig(2, modelDir = Some("/m"), checkpointDir = Some("gs://b/c"))
        .checkpointLocation.contains("gs://b/c"))
    val c = ClusterConfig.fromJson(
      """{"num_executors": 2, "checkpoint_dir": "/c", "max_restarts": 3}""")
    assert(c.checkpointLocation.contains("/c") && c.maxRestarts == 3)
    assert(ClusterConfig.fromJson("""{"num_executors": 2}""").maxRestarts == 0)
  }

  test("max_restarts needs an absolute checkpoint location every node and restart shares") {
    def refused(c: ClusterConfig): String = intercept[SparkTFException](c.validate()).getMessage
    assert(refused(ClusterConfig(2, maxRestarts = 1)).contains("no checkpoint directory"))
    assert(refused(ClusterConfig(2, maxRestarts = 1, modelDir = Some("model")))
        .contains("'model/checkpoints' is relative"))
    assert(refused(ClusterConfig(2, maxRestarts = -1)).contains("max_restarts is -1"))
    ClusterConfig(2, maxRestarts = 1, modelDir = Some("/m")).validate()
    ClusterConfig(2, maxRestarts = 1, checkpointDir = Some("hdfs:///c")).validate()
  }

  test("every setting ClusterSettings names is read, and read into its own field") {
    val all = """{"num_executors": 5, "num_ps": 1, "input_mode": "TENSORFLOW",
      "master_node": "", "eval_node": true, "model_dir": "/m", "export_dir": "/e",
      "reservation_timeout": 1, "feed_timeout": 2, "shutdown_timeout": 3, "queue_capacity": 4,
      "env": {"A": "1"}, "python": "/py", "ps_gpus": true, "tensorboard": true,
      "log_dir": "/l", "checkpoint_dir": "/c", "max_restarts": 1,
      "shared_memory_feed": false,
      "progress": false, "node_output": "all",
      "keras3_mwms_fix": false}"""
    val names = io.sparktf.proto.v1.ClusterSettings.getDescriptor.getFields.size
    val c = ClusterConfig.fromJson(all)
    val d = ClusterConfig(numExecutors = 2)
    // The settings come first; after them only what TFCluster.runFunction sets, never a user.
    val runFunctionOnly = Seq("maxResultBytes")
    assert(c.productArity == names + runFunctionOnly.size)
    assert(c.productElementNames.drop(names).toSeq == runFunctionOnly)
    (0 until names).foreach { i =>
      assert(c.productElement(i) != d.productElement(i), c.productElementName(i))
    }
  }

  test("node_output is chief, all or none") {
    assert(ClusterConfig(2).nodeOutput == "chief" && ClusterConfig(2).progress)
    val e = intercept[SparkTFException](ClusterConfig(2, nodeOutput = "workers").validate())
    assert(e.getMessage.contains("node_output is 'workers': use one of chief, all, none"))
  }

  test("a setting of the wrong type names it") {
    val e = intercept[SparkTFException](ClusterConfig.fromJson(
        """{"num_executors": 2, "queue_capacity": "many"}"""))
    assert(e.getMessage.contains("cluster setting 'queue_capacity' is \"many\""), e.getMessage)
  }
}
