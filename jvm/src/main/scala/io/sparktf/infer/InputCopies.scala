package io.sparktf.infer

import java.util.ArrayDeque

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.UnsafeRow

/** Copies of the input rows kept until their answers come: Spark reuses its input rows, so
 *  every row sent is copied. An `UnsafeRow` copy whose output row is done goes back to a free
 *  list and takes the next copy into its buffer, sparing an allocation (and its zeroing) a row.
 *  {{{
 *  val copies = new InputCopies
 *  val kept = copies.copy(row)  // survives Spark's reuse of `row`
 *  copies.release(kept)         // once nothing reads `kept` any more
 *  }}}
 */
private[infer] final class InputCopies {
  private val free = new ArrayDeque[UnsafeRow]()

  def copy(row: InternalRow): InternalRow = row match {
    case u: UnsafeRow if !free.isEmpty =>
      val kept = free.pop()
      kept.copyFrom(u) // into its own buffer, grown if `u` is larger
      kept
    case other => other.copy()
  }

  def release(row: InternalRow): Unit = row match {
    case u: UnsafeRow => free.push(u)
    case _ =>
  }
}
