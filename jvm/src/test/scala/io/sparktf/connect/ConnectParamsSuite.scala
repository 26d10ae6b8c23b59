package io.sparktf.connect

import com.fasterxml.jackson.databind.ObjectMapper
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException
import io.sparktf.ml.{TFEstimator, TFModel}

class ConnectParamsSuite extends AnyFunSuite {
  test("a Connect client's params set the Scala stage with each Param's own codec") {
    val json = """{"clusterSize": 2, "epochs": 3, "exportDir": "/tmp/e",
      |"inputMapping": "{\"features\": \"x\"}", "startTimeout": 30.5}""".stripMargin
    val est = ConnectParams.applied(new TFEstimator(), json)
    assert(est.getOrDefault(est.getParam("clusterSize")) == 2)
    assert(est.getOrDefault(est.getParam("epochs")) == 3)
    assert(est.getExportDir == "/tmp/e" && est.getInputMapping == Map("features" -> "x"))
    assert(est.getOrDefault(est.getParam("startTimeout")) == 30.5)
  }

  test("a fitted model's params go back as JSON, defaults included, and read back the same") {
    val model = ConnectParams.applied(new TFModel(), """{"exportDir": "/m", "batchSize": 64}""")
    val json = new ObjectMapper().readTree(ConnectParams.toJson(model))
    assert(json.get("exportDir").asText() == "/m" && json.get("batchSize").asInt() == 64)
    assert(json.get("signature").asText() == "serving_default")
    val again = ConnectParams.applied(new TFModel(), ConnectParams.toJson(model))
    assert(again.getExportDir == "/m" && again.getBatchSize == 64)
  }

  test("a param the stage lacks is named, with the ones it has") {
    val e = intercept[SparkTFException](ConnectParams.applied(new TFModel(), """{"lr": 0.1}"""))
    assert(e.getMessage.contains("no param 'lr'") && e.getMessage.contains("exportDir"))
  }
}
