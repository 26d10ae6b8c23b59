package org.apache.spark.sql.sparktf

import java.nio.ByteBuffer

import org.apache.spark.sql.execution.vectorized.{OnHeapColumnVector, WritableColumnVector}
import org.apache.spark.sql.types._

/** One answer column copied into a Spark column vector, whole: rows then read it through typed
 *  getters (no boxing, no array built per row). The callers check every size first; the value
 *  buffers are little-endian, as answers travel.
 *  {{{
 *  val b = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN)
 *  b.putFloat(0.5f).putFloat(1.5f).flip()
 *  ResultVectors.numbers(FloatType, b, 2).getFloat(1)  // 1.5f
 *  }}}
 *  It lives in Spark's package because the column vectors it fills are Spark internals
 *  (`sql.execution.vectorized`): sparktf reaches them only through this shim.
 */
object ResultVectors {

  /** `n` rows of one number each. */
  def numbers(t: DataType, values: ByteBuffer, n: Int): OnHeapColumnVector = {
    val v = vector(t, n)
    put(v, t, values, n)
    v
  }

  /** `n` rows of bytes (strings or binary): row r holds bytes `offsets(r)` until `offsets(r + 1)`. */
  def bytes(t: DataType, values: ByteBuffer, offsets: Array[Int], n: Int): OnHeapColumnVector = {
    val v = vector(t, n)
    put(v.arrayData(), ByteType, values, offsets(n))
    slice(v, offsets, n)
  }

  /** `n` rows of number arrays: row r holds elements `offsets(r)` until `offsets(r + 1)`. */
  def arrays(t: ArrayType, values: ByteBuffer, offsets: Array[Int], n: Int): OnHeapColumnVector = {
    val v = vector(t, n)
    put(v.arrayData(), t.elementType, values, offsets(n))
    slice(v, offsets, n)
  }

  /** A vector of `n` rows (at least 1: a vector of none cannot grow its children). */
  private def vector(t: DataType, n: Int) = new OnHeapColumnVector(math.max(n, 1), t)

  private def slice(v: OnHeapColumnVector, offsets: Array[Int], n: Int): OnHeapColumnVector = {
    var r = 0
    while (r < n) { v.putArray(r, offsets(r), offsets(r + 1) - offsets(r)); r += 1 }
    v
  }

  /** Copies `n` values of type `t` from `b` (read from its start) into `v`'s first rows. The
   *  views keep `b`'s byte order; a detour through an array keeps it independent of the
   *  platform's. */
  private def put(v: WritableColumnVector, t: DataType, b: ByteBuffer, n: Int): Unit = {
    v.reserve(n)
    t match {
      case BooleanType => // any non-zero byte is true
        var k = 0
        while (k < n) { v.putBoolean(k, b.get(k) != 0); k += 1 }
      case ByteType => val a = new Array[Byte](n); b.duplicate().get(a); v.putBytes(0, n, a, 0)
      case ShortType =>
        val a = new Array[Short](n); b.asShortBuffer().get(a); v.putShorts(0, n, a, 0)
      case IntegerType => val a = new Array[Int](n); b.asIntBuffer().get(a); v.putInts(0, n, a, 0)
      case LongType => val a = new Array[Long](n); b.asLongBuffer().get(a); v.putLongs(0, n, a, 0)
      case FloatType =>
        val a = new Array[Float](n); b.asFloatBuffer().get(a); v.putFloats(0, n, a, 0)
      case DoubleType =>
        val a = new Array[Double](n); b.asDoubleBuffer().get(a); v.putDoubles(0, n, a, 0)
      case other => throw new IllegalStateException(s"no answer vector for $other")
    }
  }
}
