# Shell helpers shared by the scripts in scripts/perf (sourced, not run).

# wait_readyz OPS_ADDR: polls http://OPS_ADDR/readyz every 100 ms for up to
# 10 s; returns 0 once it answers 200, 1 otherwise.
wait_readyz() {
	for _ in $(seq 1 100); do
		if curl -sf "http://$1/readyz" > /dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}
