package io.sparktf.ml

import org.apache.spark.sql.types._

import io.sparktf.SparkTFException
import io.sparktf.feed.FeedColumn
import io.sparktf.infer.ResultColumn
import io.sparktf.proto.v1.{DType, Shape}

/** What a transform sends and gets back, checked against the model's signature before any
 *  task runs: every error names the column (or the input/output) and says what to change.
 *  {{{
 *  val plan = ModelPlan(df.schema, signature, Seq("features" -> "dense_input"), Nil)
 *  plan.outputSchema
 *  }}}
 */
final case class ModelPlan(columns: IndexedSeq[FeedColumn], results: IndexedSeq[ResultColumn],
    inputSchema: StructType) {
  def outputSchema: StructType = StructType(inputSchema.fields ++ results.map(_.field))
}

object ModelPlan {
  def apply(schema: StructType, sig: SavedModelSignature, inputMapping: Seq[(String, String)],
      outputMapping: Seq[(String, String)]): ModelPlan = {
    val where = s"signature '${sig.name}' of '${sig.exportDir}'"
    // One mapping serves training and scoring: pairs for tensors the signature does not take
    // (the label, say) are the training feed's only.
    val scoring = inputMapping.filter { case (_, tensor) => sig.inputs.contains(tensor) }
    if (inputMapping.nonEmpty && scoring.isEmpty) {
      throw new SparkTFException(s"inputMapping sends columns to ${inputMapping.map(_._2)
          .mkString(", ")}, none of which $where takes; its inputs: " +
        sig.inputs.values.map(t => s"${t.name} ${t.describe}").mkString(", "))
    }
    val mapping =
      if (scoring.nonEmpty) scoring
      else sig.inputs.keys.toSeq.sorted.map { input =>
        if (!schema.fieldNames.contains(input)) {
          throw new SparkTFException(s"$where takes input '$input', which no column is named " +
            s"after; set inputMapping (column -> input), e.g. {\"${schema.fieldNames.headOption
                .getOrElse("features")}\": \"$input\"}; the DataFrame has " +
            schema.fieldNames.mkString(", "))
        }
        input -> input
      }
    val fed = mapping.map(_._2).toSet
    sig.inputs.keys.filterNot(fed).toSeq.sorted.headOption.foreach { missing =>
      throw new SparkTFException(s"$where takes input '$missing' ${sig.inputs(missing).describe}" +
        ", which inputMapping feeds from no column")
    }
    val columns = FeedColumn.fromSchema(schema, mapping)
      .map(c => checkKind(c, sig.inputs(c.tensor), where))

    val outputs =
      if (outputMapping.nonEmpty) outputMapping else sig.outputs.keys.toSeq.sorted.map(o => o -> o)
    val results = outputs.map { case (output, column) =>
      val spec = sig.outputs.getOrElse(
        output,
        throw new SparkTFException(
          s"outputMapping names output '$output', which $where lacks; its outputs: " +
            sig.outputs.values.map(t => s"${t.name} ${t.describe}").mkString(", "))
      )
      val t = spec.sparkType.getOrElse(throw new SparkTFException(
          s"output '$output' of $where is ${spec.describe}: sparktf appends numeric, boolean and " +
            "string outputs (strings one a row); leave it out of outputMapping"))
      ResultColumn(output, column, t)
    }.toIndexedSeq
    // Checks the names (no clash with input columns, no duplicates) and the types once more.
    ResultColumn.fromSchema(StructType(results.map(_.field)),
      results.map(r => r.column -> r.result).toMap, schema.fieldNames.toSeq)
    ModelPlan(columns, results, schema)
  }

  /** `c` as it can feed `t`: a flat array column feeding an input of rank 3 or more gets the
   *  input's row shape (`rowDims`), checked against the column's width when its first row is
   *  read; anything else that cannot feed `t` is refused here, naming the column. */
  private def checkKind(c: FeedColumn, t: TensorSpec, where: String): FeedColumn = {
    val isString = c.dtype == DType.STRING || c.dtype == DType.BINARY
    val wantsString = t.dtype == 7
    def refuse(why: String) = throw new SparkTFException(s"column '${c.source}' " +
      s"(${c.sparkType.simpleString}) cannot feed input '${c.tensor}' ${t.describe} of $where: $why")
    if (isString != wantsString) {
      refuse(if (wantsString) "the input takes strings" else "the input takes numbers")
    }
    if (!wantsString && !SavedModelSignature.DTypeNames.contains(t.dtype)) {
      refuse("sparktf feeds numbers, booleans and strings only")
    }
    t.dims.fold(c) { dims =>
      val rank = dims.size
      val columnRank = if (c.shape == Shape.SCALAR) 1 else 2
      if (c.shape == Shape.VAR_ARRAY && rank > 1) refuse("ragged columns cannot feed a dense input")
      if (rank == columnRank) {
        // A known width is checked on the first row, in the JVM, naming the column.
        if (rank == 2 && c.shape == Shape.FIXED_ARRAY && dims(1) >= 0)
          c.copy(rowDims = dims.drop(1))
        else c
      } else if (rank == 1) refuse("the input takes one value a row, the column holds arrays")
      else if (rank == 0) refuse("the input takes one scalar a call, not rows")
      else if (columnRank == 1)
        refuse(s"the input takes rank-$rank rows, the column one value a row")
      else {
        // A flat array (an image as 784 values, as TensorFlowOnSpark fed them) takes the input's
        // row shape when every dimension but the batch is known.
        val rowDims = dims.drop(1)
        if (rowDims.exists(_ < 0)) refuse(s"the input takes rows of shape " +
          s"${rowDims.map(d => if (d < 0) "?" else d.toString).mkString("[", ", ", "]")}; " +
          "sparktf reshapes a flat array column only to a fully known row shape: export the " +
          "model with a fixed input shape, or feed a rank-2 input")
        c.copy(rowDims = rowDims)
      }
    }
  }
}
