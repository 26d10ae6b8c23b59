package io.sparktf.infer

import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{GenericInternalRow, UnsafeProjection}
import org.apache.spark.sql.types.StructType
import org.apache.spark.unsafe.types.UTF8String
import org.scalatest.funsuite.AnyFunSuite

class InputCopiesSuite extends AnyFunSuite {
  private val project = UnsafeProjection.create(StructType.fromDDL("k int, s string"))
  private def row(k: Int, s: String) = project(InternalRow(k, UTF8String.fromString(s)))
  private def read(r: InternalRow) = (r.getInt(0), r.getUTF8String(1).toString)

  test("copies outlive the reused source row; a released copy takes a later one, grown") {
    val copies = new InputCopies
    val a = copies.copy(row(1, "a"))
    val b = copies.copy(row(2, "bb"))
    assert(read(a) == (1, "a") && read(b) == (2, "bb"))
    copies.release(a)
    val c = copies.copy(row(3, "c" * 100))
    assert(c eq a)
    assert(read(c) == (3, "c" * 100) && read(b) == (2, "bb"))
  }

  test("rows other than UnsafeRow are copied as they are") {
    val copies = new InputCopies
    val g = new GenericInternalRow(Array[Any](1, UTF8String.fromString("g")))
    val kept = copies.copy(g)
    copies.release(kept)
    assert(!(kept eq g) && read(kept) == (1, "g"))
  }
}
