package io.sparktf.cluster

import java.nio.file.Files

import io.sparktf.SparkTFException
import io.sparktf.node.NodeBootstrap

/** The chief's return value as its node left it for [[io.sparktf.TFCluster.runFunction]]: the
 *  cloudpickled bytes, which the executor task returns to the driver as its result.
 *  {{{
 *  val bytes = ProgramResultFile.read(NodeBootstrap.ResultFile(dir.resolve("result.pkl"), 1 << 20),
 *    NodeRole("chief", 0))
 *  }}}
 */
object ProgramResultFile {
  def read(file: NodeBootstrap.ResultFile, role: NodeRole): Array[Byte] = {
    if (!Files.isRegularFile(file.path)) {
      throw new SparkTFException(s"node ${role.address}'s program returned, but its node wrote " +
        s"no return value to ${file.path}: is the sparktf jar of the driver the one the nodes run?")
    }
    val size = Files.size(file.path)
    // The node refuses a larger value itself; this guards the task result and the driver too.
    if (size > file.maxBytes) {
      throw new SparkTFException(s"node ${role.address}'s return value is $size bytes pickled, " +
        s"over max_result_bytes (${file.maxBytes}): return less, e.g. the path of a file holding it")
    }
    Files.readAllBytes(file.path)
  }
}
