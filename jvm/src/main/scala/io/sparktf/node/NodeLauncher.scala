package io.sparktf.node

import java.io.File
import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path, Paths}
import java.nio.file.attribute.PosixFilePermissions

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.ObjectMapper
import org.slf4j.LoggerFactory

import io.sparktf.SparkTFException

/** Starts the node process `python -m sparktf.node bootstrap.json` on this executor and waits
 *  until it reports its port (and its TensorBoard's URL, if it runs one) in `ready.json`.
 *
 *  The node's Python code comes from the jar this class was loaded from (the `sparktf` package
 *  sits at the jar's root), put first on PYTHONPATH so the node always matches the JVM side.
 */
object NodeLauncher {
  private val log = LoggerFactory.getLogger("io.sparktf.node")
  private val mapper = new ObjectMapper()

  /** A private working directory for one node: bootstrap, program and ready files. */
  def workingDir(clusterId: String, label: String): Path = Files.createTempDirectory(
    s"sparktf-$clusterId-$label-",
    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")))

  /** Where shared-memory directories go: a tmpfs on Linux. */
  private val SharedMemoryRoot = Paths.get("/dev/shm")

  /** A private (0700) directory in shared memory through which feed tasks on this machine hand
   *  the node batches as files (see `SharedBatch` in feed.proto); None where there is no
   *  writable /dev/shm, and the feed then uses the socket alone. */
  def sharedDir(clusterId: String, label: String): Option[Path] =
    if (!Files.isDirectory(SharedMemoryRoot) || !Files.isWritable(SharedMemoryRoot)) None
    else scala.util.Try(Files.createTempDirectory(SharedMemoryRoot, s"sparktf-$clusterId-$label-",
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")))).toOption

  def launch(boot: NodeBootstrap, python: String,
      readyTimeoutSeconds: Double): (NodeProcess, NodeReady) = {
    val bootstrapFile = boot.write()
    val pb = pythonModule(python, "sparktf.node", bootstrapFile.toString, boot.workingDir)
    val env = pb.environment()
    boot.cudaVisibleDevices.foreach(env.put("CUDA_VISIBLE_DEVICES", _))
    boot.env.foreach { case (k, v) => env.put(k, v) }
    val label = boot.role.address
    val (process, out, err) = startPumped(pb, s"node $label", label, python, log)
    val node = new NodeProcess(boot.role, process, boot.workingDir, out, err, boot.sharedDir)
    log.info(s"started node $label, pid ${process.pid()}")
    try (node, awaitReady(node, boot.readyFile, readyTimeoutSeconds))
    catch {
      case e: Throwable =>
        node.stop(0)
        throw e
    }
  }

  private def awaitReady(node: NodeProcess, readyFile: Path, timeoutSeconds: Double): NodeReady = {
    val deadline = System.nanoTime() + (timeoutSeconds * 1e9).toLong
    while (!Files.exists(readyFile)) {
      if (!node.isAlive) {
        node.process.waitFor()
        Thread.sleep(200) // let the pumps copy the last lines
        throw new SparkTFException(s"node ${node.role.address} ${node.exitDescription} before " +
          s"it was ready; its stderr ends with:\n${node.stderrTail}")
      }
      if (System.nanoTime() > deadline) {
        throw new SparkTFException(s"node ${node.role.address} (pid ${node.pid}) was not ready " +
          s"within $timeoutSeconds s (reservation_timeout): it never reported its port; raise " +
          "reservation_timeout if nodes start slowly here, else see its stderr, which ends " +
          s"with:\n${node.stderrTail}")
      }
      Thread.sleep(50)
    }
    NodeReady.fromJson(
      mapper.readTree(new String(Files.readAllBytes(readyFile), StandardCharsets.UTF_8)))
  }

  /** `python -u -m module arg` run in `dir`, with this jar's `sparktf` package first on
   *  PYTHONPATH and unbuffered output (the pumps forward it line by line). */
  def pythonModule(python: String, module: String, arg: String, dir: Path): ProcessBuilder = {
    val pb = new ProcessBuilder(python, "-u", "-m", module, arg).directory(dir.toFile)
    val env = pb.environment()
    env.put("PYTHONPATH", (pythonPath() ++ Option(env.get("PYTHONPATH")).filter(_.nonEmpty))
      .mkString(File.pathSeparator))
    env.put("PYTHONUNBUFFERED", "1")
    pb
  }

  /** Starts `pb` (`what` names it in errors) and forwards its stdout and stderr, line by line
   *  and prefixed with `label`, to `logger`. */
  def startPumped(pb: ProcessBuilder, what: String, label: String, python: String,
      logger: org.slf4j.Logger): (Process, OutputPump, OutputPump) = {
    val process = try pb.start() catch {
      case e: java.io.IOException => throw new SparkTFException(
        s"cannot start $what with Python '$python': ${e.getMessage}; set " +
          "spark.pyspark.python (or PYSPARK_PYTHON) to a Python with tensorflow installed", e)
    }
    val out = new OutputPump(process.getInputStream, label, logger, isError = false)
    val err = new OutputPump(process.getErrorStream, label, logger, isError = true)
    out.start()
    err.start()
    (process, out, err)
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

  /** The Python the nodes run, as Spark picks it for its own Python workers. */
  def pythonExecutable(conf: org.apache.spark.SparkConf): String =
    conf.getOption("spark.sparktf.python")
      .orElse(conf.getOption("spark.pyspark.python"))
      .orElse(sys.env.get("PYSPARK_PYTHON"))
      .filter(_.nonEmpty).getOrElse("python3")
}
