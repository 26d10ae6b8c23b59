package io.sparktf.ml

import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException

class ModelPlanSuite extends AnyFunSuite {
  private val sig = SavedModelSignature(
    "/m",
    "serving_default",
    inputs = Map("x" -> TensorSpec("x", 1, Some(Seq(-1L, 4L)))),
    outputs = Map("score" -> TensorSpec("score", 1, Some(Seq(-1L, 1L))),
      "probs" -> TensorSpec("probs", 1, Some(Seq(-1L, 3L))),
      "label" -> TensorSpec("label", 9, Some(Seq(-1L)))),
    version = "1"
  )
  private val schema = StructType.fromDDL("features array<float>, y double, name string")

  test("the label pair of a training mapping is left out; outputs get Spark types") {
    val plan = ModelPlan(schema, sig, Seq("features" -> "x", "y" -> "label_in"), Nil)
    assert(plan.columns.map(_.source) == Seq("features"))
    assert(plan.results.map(r => r.column -> r.dataType) == Seq("label" -> LongType,
      "probs" -> ArrayType(FloatType, containsNull = false), "score" -> FloatType))
  }

  test("an input no column feeds is named, with the columns there are") {
    val e = intercept[SparkTFException](ModelPlan(schema, sig, Nil, Nil))
    assert(e.getMessage.contains("input 'x'") && e.getMessage.contains("features, y, name"))
  }

  test("wrong kinds and ranks name the column") {
    val s = intercept[SparkTFException](ModelPlan(schema, sig, Seq("name" -> "x"), Nil))
    assert(s.getMessage.contains("column 'name'") && s.getMessage.contains("takes numbers"))
    val r = intercept[SparkTFException](ModelPlan(schema, sig, Seq("y" -> "x"), Nil))
    assert(r.getMessage.contains("column 'y'") && r.getMessage.contains("one value a row"))
  }

  test("an unknown output is named, with the outputs there are") {
    val e = intercept[SparkTFException](
      ModelPlan(schema, sig, Seq("features" -> "x"), Seq("logits" -> "p")))
    assert(e.getMessage.contains("'logits'") && e.getMessage.contains("score"))
  }

  test("a flat array column takes an image input's row shape; an unknown row shape is refused") {
    val cnn = sig.copy(inputs = Map("conv2d_input" -> TensorSpec("conv2d_input", 1,
      Some(Seq(-1L, 28L, 28L, 1L)))))
    val images = StructType.fromDDL("image array<bigint>, label bigint")
    val plan = ModelPlan(images, cnn, Seq("image" -> "conv2d_input"), Seq("score" -> "s"))
    assert(plan.columns.map(_.rowDims) == Seq(Seq(28L, 28L, 1L)))
    assert(plan.columns.head.spec(784).getRowDimsList.toArray.toSeq == Seq(28L, 28L, 1L))
    val wrong = intercept[SparkTFException](plan.columns.head.checkWidth(100, partition = 3))
    assert(
      wrong.getMessage.contains("column 'image' holds arrays of 100 values (partition 3)") &&
        wrong.getMessage.contains("[28, 28, 1] = 784 values"),
      wrong.getMessage
    )
    val open = sig.copy(inputs = Map("x" -> TensorSpec("x", 1, Some(Seq(-1L, -1L, -1L, 3L)))))
    val e = intercept[SparkTFException](ModelPlan(images, open, Seq("image" -> "x"), Nil))
    assert(e.getMessage.contains("column 'image'") && e.getMessage.contains("[?, ?, 3]"))
    // A rank-2 input of known width is checked on the first row too.
    assert(ModelPlan(schema, sig, Seq("features" -> "x"), Nil).columns.head.rowDims == Seq(4L))
  }
}
