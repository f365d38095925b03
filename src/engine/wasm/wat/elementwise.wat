;; Lopper's elementwise float32 kernels, one exported function each:
;;   erf(x, out, vectors), exp(x, out, vectors), gelu(x, out, vectors), geluGrad(x, y, dy, out, vectors)
;; each maps its formula over 4·vectors floats at the byte offsets x (y, dy) and writes them at out,
;; on tfjs-backend-wasm's heap (imported as env.memory). The last n mod 4 elements are done by the
;; float32 JavaScript twins (erfApprox, expApprox, geluApprox, geluGradApprox), which take the
;; same steps, so that every element gets the same bits whichever side computes it.
;;   GELU:      y  = x·Φ(x),  Φ(x) = ½(1 + erf(x/√2))
;;   GELU grad: dx = dy·(Φ(x) + x·exp(−x²/2)/√(2π)),  Φ(x) = y/x (½ where |x| < 1e-20)
;; Taking Φ from the saved output spares the backward pass an erf (measured 4.7 → ~3 ms per
;; [256,16,256]). erf and exp are shared as included code (erf.inc.wat, exp.inc.wat).
;; Unrolling the loops was measured: no gain, V8 overlaps iterations.
(module
  (import "env" "memory" (memory 1))

  ;; Four-lane constants as immutable v128 globals: V8 builds a v128.const with three
  ;; instructions wherever it appears, so a polynomial's constants inside a loop cost more than
  ;; its arithmetic; a global is one load (measured: erf over 1M floats 1.96 → 1.25 ms, same bits).
  (global $half v128 (v128.const f32x4 0.5 0.5 0.5 0.5))
  (global $one v128 (v128.const f32x4 1 1 1 1))
  (global $four v128 (v128.const f32x4 4 4 4 4))
  (global $minus_four v128 (v128.const f32x4 -4 -4 -4 -4))
  (global $infinity v128 (v128.const f32x4 inf inf inf inf))
  (global $i32_127 v128 (v128.const i32x4 127 127 127 127)) ;; the float exponent bias
  ;; erf: Eigen's coefficients, numerator α (odd, in x·x²ⁱ), denominator β (even)
  (global $erf_a0 v128 (v128.const f32x4 -1.60960333262415e-2 -1.60960333262415e-2 -1.60960333262415e-2 -1.60960333262415e-2))
  (global $erf_a1 v128 (v128.const f32x4 -2.95459980854025e-3 -2.95459980854025e-3 -2.95459980854025e-3 -2.95459980854025e-3))
  (global $erf_a2 v128 (v128.const f32x4 -7.34990630326855e-4 -7.34990630326855e-4 -7.34990630326855e-4 -7.34990630326855e-4))
  (global $erf_a3 v128 (v128.const f32x4 -5.69250639462346e-5 -5.69250639462346e-5 -5.69250639462346e-5 -5.69250639462346e-5))
  (global $erf_a4 v128 (v128.const f32x4 -2.10102402082508e-6 -2.10102402082508e-6 -2.10102402082508e-6 -2.10102402082508e-6))
  (global $erf_a5 v128 (v128.const f32x4 2.77068142495902e-8 2.77068142495902e-8 2.77068142495902e-8 2.77068142495902e-8))
  (global $erf_a6 v128 (v128.const f32x4 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10 -2.72614225801306e-10))
  (global $erf_b0 v128 (v128.const f32x4 -1.42647390514189e-2 -1.42647390514189e-2 -1.42647390514189e-2 -1.42647390514189e-2))
  (global $erf_b1 v128 (v128.const f32x4 -7.37332916720468e-3 -7.37332916720468e-3 -7.37332916720468e-3 -7.37332916720468e-3))
  (global $erf_b2 v128 (v128.const f32x4 -1.68282697438203e-3 -1.68282697438203e-3 -1.68282697438203e-3 -1.68282697438203e-3))
  (global $erf_b3 v128 (v128.const f32x4 -2.13374055278905e-4 -2.13374055278905e-4 -2.13374055278905e-4 -2.13374055278905e-4))
  (global $erf_b4 v128 (v128.const f32x4 -1.45660718464996e-5 -1.45660718464996e-5 -1.45660718464996e-5 -1.45660718464996e-5))
  ;; exp: Cephes' expf
  (global $exp_log2e v128 (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))
  (global $exp_ln2_hi v128 (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)) ;; ln 2 = LN2_HI + LN2_LO
  (global $exp_ln2_lo v128 (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))
  (global $exp_x_max v128 (v128.const f32x4 88.72283935546875 88.72283935546875 88.72283935546875 88.72283935546875)) ;; ln(FLT_MAX), rounded down to a float
  (global $exp_x_min v128 (v128.const f32x4 -104 -104 -104 -104)) ;; exp(-104) rounds to 0 in float32
  (global $exp_p0 v128 (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1))
  (global $exp_p1 v128 (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1))
  (global $exp_p2 v128 (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2))
  (global $exp_p3 v128 (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3))
  (global $exp_p4 v128 (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3))
  (global $exp_p5 v128 (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
  ;; GELU
  (global $sqrt1_2 v128 (v128.const f32x4 0.7071067811865476 0.7071067811865476 0.7071067811865476 0.7071067811865476)) ;; 1/√2
  (global $inv_sqrt_2pi v128 (v128.const f32x4 0.3989422804014327 0.3989422804014327 0.3989422804014327 0.3989422804014327)) ;; 1/√(2π)
  (global $minus_half v128 (v128.const f32x4 -0.5 -0.5 -0.5 -0.5))
  (global $tiny v128 (v128.const f32x4 1e-20 1e-20 1e-20 1e-20)) ;; below this |x|, y/x loses precision (y may be denormal) and Φ(x) is ½ to float precision

  (func (export "erf") (param $x i32) (param $out i32) (param $vectors i32)
    (local $i i32) (local $off i32)
    (local $erf_x v128) (local $erf_x2 v128) (local $erf_p v128) (local $erf_q v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $vectors)))
        (local.set $off (i32.mul (local.get $i) (i32.const 16)))
        (i32.add (local.get $out) (local.get $off)) ;; the store address, under the value
        (local.set $erf_x (v128.load (i32.add (local.get $x) (local.get $off))))
        ;; @include "erf.inc.wat"
        (v128.store)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  (func (export "exp") (param $x i32) (param $out i32) (param $vectors i32)
    (local $i i32) (local $off i32)
    (local $exp_x0 v128) (local $exp_x v128) (local $exp_n v128) (local $exp_p v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $vectors)))
        (local.set $off (i32.mul (local.get $i) (i32.const 16)))
        (i32.add (local.get $out) (local.get $off))
        (local.set $exp_x0 (v128.load (i32.add (local.get $x) (local.get $off))))
        ;; @include "exp.inc.wat"
        (v128.store)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  (func (export "gelu") (param $x i32) (param $out i32) (param $vectors i32)
    (local $i i32) (local $off i32) (local $xv v128) (local $cdf v128)
    (local $erf_x v128) (local $erf_x2 v128) (local $erf_p v128) (local $erf_q v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $vectors)))
        (local.set $off (i32.mul (local.get $i) (i32.const 16)))
        (i32.add (local.get $out) (local.get $off))
        (local.set $xv (v128.load (i32.add (local.get $x) (local.get $off))))
        ;; Φ(x) = erf(x/√2)·½ + ½
        (local.set $erf_x (f32x4.mul (local.get $xv) (global.get $sqrt1_2)))
        ;; @include "erf.inc.wat"
        (local.set $cdf (f32x4.add (f32x4.mul (global.get $half)) (global.get $half)))
        (f32x4.mul (local.get $xv) (local.get $cdf))
        (v128.store)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))

  (func (export "geluGrad") (param $x i32) (param $y i32) (param $dy i32) (param $out i32) (param $vectors i32)
    (local $i i32) (local $off i32) (local $xv v128) (local $cdf v128)
    (local $exp_x0 v128) (local $exp_x v128) (local $exp_n v128) (local $exp_p v128)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $vectors)))
        (local.set $off (i32.mul (local.get $i) (i32.const 16)))
        (i32.add (local.get $out) (local.get $off))
        (local.set $xv (v128.load (i32.add (local.get $x) (local.get $off))))
        ;; Φ = |x| < TINY ? ½ : y/x
        (local.set $cdf (v128.bitselect
          (global.get $half)
          (f32x4.div (v128.load (i32.add (local.get $y) (local.get $off))) (local.get $xv))
          (f32x4.gt (global.get $tiny) (f32x4.abs (local.get $xv)))))
        ;; (exp(−x²/2)·x/√(2π) + Φ)·dy
        (local.set $exp_x0 (f32x4.mul (f32x4.mul (local.get $xv) (local.get $xv)) (global.get $minus_half)))
        ;; @include "exp.inc.wat"
        (f32x4.mul (local.get $xv))
        (f32x4.mul (global.get $inv_sqrt_2pi))
        (f32x4.add (local.get $cdf))
        (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $off))))
        (v128.store)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next))))
)
