-- Last: the marker, so a batch retried after a timeout finds it and counts nothing twice.
redis.call('SET', K.marker, 1, 'EX', A.marker_seconds)
return {outcomes, over_cap, pushed_out}
