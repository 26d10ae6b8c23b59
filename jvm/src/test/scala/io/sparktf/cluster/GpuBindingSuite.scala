package io.sparktf.cluster

import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.SparkTFException

class GpuBindingSuite extends AnyFunSuite {
  private val worker = NodeRole("worker", 0)
  private val chief = NodeRole("chief", 0)
  private val ps = NodeRole("ps", 0)
  import GpuBinding.cudaVisibleDevices

  test("the task's addresses as they are when the executor has no CUDA_VISIBLE_DEVICES") {
    assert(cudaVisibleDevices(Some(Seq("0", "1")), None, worker, psGpus = false).contains("0,1"))
    assert(cudaVisibleDevices(Some(Seq("1")), None, chief, psGpus = false).contains("1"))
  }

  test("addresses index the executor's own CUDA_VISIBLE_DEVICES") {
    assert(cudaVisibleDevices(Some(Seq("1")), Some("4,5"), worker, psGpus = false).contains("5"))
    assert(cudaVisibleDevices(Some(Seq("0", "2")), Some("GPU-a, GPU-b ,GPU-c"), chief,
        psGpus = false).contains("GPU-a,GPU-c"))
  }

  test("a ps sees no GPU unless asked") {
    assert(cudaVisibleDevices(Some(Seq("0")), Some("4,5"), ps, psGpus = false).contains(""))
    assert(cudaVisibleDevices(Some(Seq("0")), Some("4,5"), ps, psGpus = true).contains("4"))
  }

  test("no gpu resource: the executor's CUDA_VISIBLE_DEVICES is left alone, for every role") {
    Seq(worker, chief, ps).foreach { r =>
      assert(cudaVisibleDevices(None, Some("4,5"), r, psGpus = false).isEmpty)
      assert(cudaVisibleDevices(None, None, r, psGpus = true).isEmpty)
    }
  }

  test("an address that does not index the executor's GPUs says what was expected") {
    val e = intercept[SparkTFException](cudaVisibleDevices(Some(Seq("2")), Some("4,5"), worker,
        psGpus = false))
    Seq("GPU address '2'", "CUDA_VISIBLE_DEVICES='4,5'", "from 0 to 1").foreach { needle =>
      assert(e.getMessage.contains(needle), e.getMessage)
    }
    assert(intercept[SparkTFException](cudaVisibleDevices(Some(Seq("GPU-x")), Some("4"), chief,
          psGpus = false)).getMessage.contains("'GPU-x'"))
  }
}
