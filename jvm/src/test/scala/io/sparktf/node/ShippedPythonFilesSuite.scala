package io.sparktf.node

import java.nio.file.Files

import org.scalatest.funsuite.AnyFunSuite

class ShippedPythonFilesSuite extends AnyFunSuite {
  test("the SparkFiles directory and its archives, in name order; other files are not entries") {
    val dir = Files.createTempDirectory("sparktf-shipped-")
    try {
      Seq("deps.zip", "a.egg", "b.whl", "helper.py", "data.csv", "sparktf.jar")
        .foreach(n => Files.write(dir.resolve(n), Array[Byte](1)))
      Files.createDirectory(dir.resolve("pkg.zip")) // a directory named like an archive
      assert(ShippedPythonFiles.in(dir.toFile) == Seq(dir.toString,
        dir.resolve("a.egg").toString, dir.resolve("b.whl").toString,
        dir.resolve("deps.zip").toString))
    } finally ManagedProcess.deleteTree(dir)
  }

  test("a relative directory (an executor's SparkFiles root is \".\") is given absolute") {
    val here = new java.io.File(".")
    assert(ShippedPythonFiles.in(here).head == here.getAbsolutePath)
  }

}
