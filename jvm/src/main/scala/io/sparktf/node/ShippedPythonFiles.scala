package io.sparktf.node

import java.io.File

import scala.util.Try

import org.apache.spark.{SparkEnv, SparkFiles}

/** The Python files the application shipped (`--py-files`, `spark.submit.pyFiles`,
 *  `sc.addPyFile`), as PYTHONPATH entries for the processes sparktf starts on an executor.
 *
 *  Spark fetches them into the executor's SparkFiles directory before a task runs, and its own
 *  Python workers import them from there: the directory (for `.py` files) and each archive in it
 *  (`.zip`, `.egg`, `.whl`). The nodes and model servers get the same, so a `main_fun` that
 *  imports the user's modules works as it did in TensorFlowOnSpark's Python workers.
 *  {{{
 *  ShippedPythonFiles.paths()   // Seq("/.../userFiles-1a2b", "/.../userFiles-1a2b/deps.zip")
 *  }}}
 */
object ShippedPythonFiles {
  private val Archives = Seq(".zip", ".egg", ".whl")

  /** Empty outside a Spark process (unit tests): nothing was shipped there. */
  def paths(): Seq[String] =
    if (SparkEnv.get == null) Nil
    else Try(new File(SparkFiles.getRootDirectory())).toOption.filter(_.isDirectory)
      .map(in).getOrElse(Nil)

  /** `dir` and its archives, absolute (an executor's SparkFiles directory is "."; the node runs
   *  in a directory of its own), in name order (the same on every executor). */
  def in(dir: File): Seq[String] = {
    val root = dir.getAbsoluteFile
    val archives = Option(root.listFiles()).getOrElse(Array.empty[File]).toSeq
      .filter(f => f.isFile && Archives.exists(f.getName.endsWith))
      .map(_.getPath).sorted
    root.getPath +: archives
  }
}
