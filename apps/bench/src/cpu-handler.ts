/** The `pnpm bench cpu` handler: naive Fibonacci of the payload, pure CPU and no I/O. */
function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

export default function cpuHandler(n: number): number {
  return fib(n);
}
