package io.sparktf.node

import java.io.File
import java.nio.file.{Files, Path, Paths}
import java.nio.file.attribute.PosixFilePermissions
import java.util.Comparator
import java.util.concurrent.TimeUnit

import org.slf4j.Logger

import io.sparktf.SparkTFException

/** A Python process this executor JVM started and owns: a TensorFlow node ([[NodeProcess]]) or
 *  a model server (`io.sparktf.ml.ModelServerProcess`). It is started with its output pumped
 *  into the executor log, waited on until it writes its `ready.json`, stopped (voluntary exit,
 *  SIGTERM, SIGKILL), and its private directories are removed once it is gone.
 *  {{{
 *  val dir = ManagedProcess.privateDir("c1", "chief-0")
 *  val proc = ManagedProcess.start(ManagedProcess.pythonModule("python3", "sparktf.node",
 *    boot.toString, dir), "node chief:0", "chief:0", "python3", log, Seq(dir))
 *  try {
 *    val ready = proc.awaitReady(dir.resolve("ready.json"), 600, " (reservation_timeout)")
 *    useIt(ready.port)
 *  } finally proc.stop(graceSeconds = 10)
 *  }}}
 *
 *  @param what  names the process in errors ("node chief:0", "the model server for ...")
 *  @param dirs  its working directories: removed by [[stop]] and [[removeDirs]]
 */
final class ManagedProcess private (val what: String, val process: Process, dirs: Seq[Path],
    stdout: OutputPump, stderr: OutputPump) {

  def pid: Long = process.pid()
  def isAlive: Boolean = process.isAlive

  /** The last lines the process printed to stderr (its traceback, when it failed). */
  def stderrTail: String = stderr.lastOutput

  def exitDescription: String =
    if (process.isAlive) "still running"
    else {
      val code = process.exitValue()
      if (code > 128) s"killed by signal ${code - 128}" else s"exited with code $code"
    }

  @volatile private var stopping = false

  /** Whether its owner ended the process (its exit then says nothing of the process). */
  def stoppedByOwner: Boolean = stopping

  /** Waits up to `millis` for the output pumps to copy the last lines of an ended process. */
  def awaitOutput(millis: Long): Unit = {
    stdout.join(millis)
    stderr.join(millis)
  }

  /** Waits until the process has written `readyFile` (atomically: a file that exists is
   *  whole); if it exits first or `timeoutSeconds` pass, stops it and fails, with the tail of
   *  its stderr. `timeoutHint` follows the timeout in the error: which setting it was, and what
   *  to do. */
  def awaitReady(readyFile: Path, timeoutSeconds: Double, timeoutHint: String = ""): NodeReady = {
    val deadline = System.nanoTime() + (timeoutSeconds * 1e9).toLong
    def fail(why: String): Nothing = {
      stop(0)
      throw new SparkTFException(s"$what $why; its stderr ends with:\n$stderrTail")
    }
    while (!Files.exists(readyFile)) {
      if (!isAlive) {
        process.waitFor()
        awaitOutput(2000)
        fail(s"$exitDescription before it was ready")
      }
      if (System.nanoTime() > deadline) {
        fail(s"(pid $pid) was not ready within $timeoutSeconds s$timeoutHint")
      }
      Thread.sleep(50)
    }
    try NodeReady.read(readyFile)
    catch {
      case e: SparkTFException => fail(e.getMessage)
    }
  }

  /** Waits up to `graceSeconds` for a voluntary exit, then SIGTERM, then SIGKILL; always
   *  returns with the process dead and its directories removed. */
  def stop(graceSeconds: Double): Unit = {
    stopping = true
    if (!process.waitFor((graceSeconds * 1000).toLong, TimeUnit.MILLISECONDS)) {
      process.destroy()
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
      }
    }
    awaitOutput(2000)
    removeDirs()
  }

  /** Deletes its directories (for a node's shared-memory one: batch files a feed left there when
   *  the node died, and released files kept for reuse), once the process is gone. */
  def removeDirs(): Unit = dirs.foreach(ManagedProcess.deleteTree)
}

object ManagedProcess {

  /** Starts `command` (`what` names it in errors) and forwards its stdout and stderr, line by
   *  line and prefixed with `label`, to `logger`. A process that cannot start removes `dirs`. */
  def start(command: ProcessBuilder, what: String, label: String, python: String,
      logger: Logger, dirs: Seq[Path]): ManagedProcess = {
    val process =
      try command.start()
      catch {
        case e: java.io.IOException =>
          dirs.foreach(deleteTree)
          throw new SparkTFException(
            s"cannot start $what with Python '$python': ${e.getMessage}; set " +
              "spark.pyspark.python (or PYSPARK_PYTHON) to a Python with tensorflow installed", e)
      }
    val out = new OutputPump(process.getInputStream, label, logger, isError = false)
    val err = new OutputPump(process.getErrorStream, label, logger, isError = true)
    out.start()
    err.start()
    logger.info(s"started $what, pid ${process.pid()}")
    new ManagedProcess(what, process, dirs, out, err)
  }

  val TfCppMinLogLevel = "TF_CPP_MIN_LOG_LEVEL"

  /** Warnings and errors only: TensorFlow's start-up info lines (CPU features, cuInit on a
   *  machine without GPU) are noise on a console. */
  val DefaultTfCppMinLogLevel = "2"

  /** `python -u -m module arg` run in `dir`, with this jar's `sparktf` package first on
   *  PYTHONPATH, then the Python files the application shipped ([[ShippedPythonFiles]]), and
   *  unbuffered output (the pumps forward it line by line). TensorFlow's C++ logging starts at
   *  warnings unless the executor's environment sets TF_CPP_MIN_LOG_LEVEL (the cluster's `env`
   *  setting, applied later, overrides both). */
  def pythonModule(python: String, module: String, arg: String, dir: Path): ProcessBuilder = {
    val pb = new ProcessBuilder(python, "-u", "-m", module, arg).directory(dir.toFile)
    val env = pb.environment()
    env.putIfAbsent(TfCppMinLogLevel, DefaultTfCppMinLogLevel)
    env.put("PYTHONPATH",
      (pythonPath() ++ ShippedPythonFiles.paths() ++
        Option(env.get("PYTHONPATH")).filter(_.nonEmpty))
        .mkString(File.pathSeparator))
    env.put("PYTHONUNBUFFERED", "1")
    pb
  }

  /** Where the `sparktf` Python package is: the jar holding this class, or SPARKTF_PYTHONPATH
   *  (a source checkout, for development). */
  def pythonPath(): Seq[String] = {
    val fromEnv = sys.env.get("SPARKTF_PYTHONPATH").filter(_.nonEmpty).toSeq
    val fromJar = Option(getClass.getProtectionDomain.getCodeSource).flatMap(cs =>
      Option(cs.getLocation)).map(u => Paths.get(u.toURI).toString).filter(_.endsWith(".jar"))
    if (fromEnv.isEmpty && fromJar.isEmpty) {
      throw new SparkTFException("cannot find the sparktf Python package: sparktf classes were " +
        "not loaded from a jar; set SPARKTF_PYTHONPATH to the python/ folder of a checkout")
    }
    fromJar.toSeq ++ fromEnv
  }

  private val Private = PosixFilePermissions.asFileAttribute(
    PosixFilePermissions.fromString("rwx------"))

  /** A private (0700) working directory for one process: its bootstrap, program, ready file. */
  def privateDir(clusterId: String, label: String): Path =
    Files.createTempDirectory(s"sparktf-$clusterId-$label-", Private)

  /** Where shared-memory directories go: a tmpfs on Linux. */
  private val SharedMemoryRoot = Paths.get("/dev/shm")

  /** A private (0700) directory in shared memory through which tasks on this machine hand the
   *  process batches as files (see `SharedBatch` in feed.proto); None where there is no
   *  writable /dev/shm, and the feed then uses the socket alone. */
  def sharedDir(clusterId: String, label: String): Option[Path] =
    if (!Files.isDirectory(SharedMemoryRoot) || !Files.isWritable(SharedMemoryRoot)) None
    else scala.util.Try(Files.createTempDirectory(SharedMemoryRoot,
        s"sparktf-$clusterId-$label-", Private)).toOption

  /** Deletes `dir` and what it holds, quietly: another thread may be deleting it too. */
  def deleteTree(dir: Path): Unit = if (Files.exists(dir)) {
    try {
      val paths = Files.walk(dir)
      try paths.sorted(Comparator.reverseOrder[Path]()).forEach(p => new File(p.toString).delete())
      finally paths.close()
    } catch {
      case _: java.io.IOException | _: java.io.UncheckedIOException =>
    }
  }
}
