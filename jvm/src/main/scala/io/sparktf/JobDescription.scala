package io.sparktf

import org.apache.spark.SparkContext

/** Names the Spark jobs a block submits (the UI's job description) and gives the caller's own
 *  description back afterwards: sparktf's jobs run on the user's thread, whose description the
 *  user may have set for their own jobs.
 *  {{{
 *  JobDescription.during(sc, s"sparktf cluster $id: feed epoch 1/3") { feedJob.collect() }
 *  }}}
 */
object JobDescription {

  /** SparkContext.SPARK_JOB_DESCRIPTION, which Spark keeps private. */
  private val Key = "spark.job.description"

  def during[T](sc: SparkContext, description: String)(body: => T): T = {
    val callers = sc.getLocalProperty(Key)
    sc.setJobDescription(description)
    try body
    finally sc.setJobDescription(callers)
  }
}
