package io.sparktf

/** The one exception sparktf raises for a cluster that cannot start, feed or finish. Its message
 *  says what was expected, what was found, and what to do. */
class SparkTFException(message: String, cause: Throwable = null)
    extends RuntimeException(message, cause)
