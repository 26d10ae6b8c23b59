package io.sparktf.tfrecord

import java.io.{ByteArrayInputStream, ByteArrayOutputStream}
import java.nio.charset.StandardCharsets.US_ASCII
import java.util.zip.CRC32C

import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException

class TFRecordFramingSuite extends AnyFunSuite {
  private def hex(s: String): Array[Byte] = s.grouped(2).map(Integer.parseInt(_, 16).toByte).toArray

  // Written by TensorFlow 2.21's tf.io.TFRecordWriter: one record each.
  private val tfHello = hex("0500000000000000eab2043e68656c6c6fbb1f1c19")
  private val tfEmpty = hex("000000000000000029039807d8ea82a2")

  private def framed(records: Array[Byte]*): Array[Byte] = {
    val out = new ByteArrayOutputStream()
    val w = new TFRecordWriter(out)
    records.foreach(w.write)
    out.toByteArray
  }

  private def readAll(bytes: Array[Byte]): Seq[Seq[Byte]] =
    new TFRecordReader(new ByteArrayInputStream(bytes), "mem.tfrecord").map(_.toSeq).toSeq

  test("CRC32C check value and TensorFlow's mask") {
    val crc = new CRC32C()
    crc.update("123456789".getBytes(US_ASCII))
    assert(crc.getValue == 0xe3069283L)
    // mask(c) = rotr15(c) + 0xa282ead8: 0xE3069283 rotr 15 = 0x2507C60D.
    assert(MaskedCrc32c.mask(0xe3069283) == 0x2507c60d + 0xa282ead8)
  }

  test("the writer's bytes are TensorFlow's, byte for byte") {
    assert(framed("hello".getBytes(US_ASCII)).sameElements(tfHello))
    assert(framed(Array.emptyByteArray).sameElements(tfEmpty))
  }

  test("the reader reads TensorFlow's records and stops cleanly at the end") {
    assert(readAll(tfHello ++ tfEmpty) == Seq("hello".getBytes(US_ASCII).toSeq, Seq.empty[Byte]))
    assert(readAll(Array.emptyByteArray).isEmpty)
  }

  test("a corrupt record names the file and the record's offset") {
    val bytes = framed("hello".getBytes(US_ASCII), "world".getBytes(US_ASCII))
    bytes(21 + 12) = 'W'.toByte // first byte of the second record's data
    val e = intercept[SparkTFException](readAll(bytes))
    assert(e.getMessage.contains("mem.tfrecord") && e.getMessage.contains("byte offset 21") &&
        e.getMessage.contains("data CRC mismatch"), e.getMessage)
    val lengthHit = framed("hello".getBytes(US_ASCII))
    lengthHit(0) = 6
    val l = intercept[SparkTFException](readAll(lengthHit))
    assert(l.getMessage.contains("byte offset 0") && l.getMessage.contains("length CRC"),
      l.getMessage)
  }

  test("a truncated file is an error, not a short read") {
    val bytes = framed("hello".getBytes(US_ASCII), "world".getBytes(US_ASCII))
    val e = intercept[SparkTFException](readAll(bytes.dropRight(2)))
    assert(e.getMessage.contains("byte offset 21") && e.getMessage.contains("truncated"),
      e.getMessage)
    val h = intercept[SparkTFException](readAll(bytes.take(25)))
    assert(h.getMessage.contains("truncated header (4 of 12 bytes)"), h.getMessage)
  }
}
