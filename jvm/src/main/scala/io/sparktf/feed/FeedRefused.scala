package io.sparktf.feed

import io.sparktf.SparkTFException

/** A `train()` refused before any row was fed: a DataFrame too small for the fed nodes, or nodes
 *  whose programs have already returned. Nothing happened to the cluster, so it is not a
 *  failure: the cluster lives on as it was (a later `train()` of a good DataFrame works, and
 *  `shutdown()` reports the programs' ends).
 *  {{{
 *  try cluster.train(df) catch { case e: FeedRefused => println(e.getMessage) }
 *  }}}
 */
final class FeedRefused(message: String) extends SparkTFException(message)
