;; adamw(w, g, m, v, mask, outW, outM, outV, vectors, decays, β1, 1−β1, β2, 1−β2, step, ε, decay):
;; Lopper's AdamW update op (adamw.ts) over 4·vectors floats, reading w, g, m, v (and the decay
;; mask when decays ≠ 0) once and writing w', m', v':
;;   m' = m·β1 + g·(1−β1)
;;   v' = v·β2 + g²·(1−β2)
;;   w' = (w − (w·mask)·decay) − (m'/(√v' + ε))·step      (w − … without decay)
;; the portable path's operations in the portable path's order (ops/adamw-update.ts), so the
;; results are the same bits. The scalars arrive as f32 (JavaScript's numbers rounded to float32,
;; as Math.fround does).
(module
  (import "env" "memory" (memory 1))
  (func (export "adamw")
    (param $w i32) (param $g i32) (param $m i32) (param $v i32) (param $mask i32)
    (param $outW i32) (param $outM i32) (param $outV i32) (param $vectors i32) (param $decays i32)
    (param $beta1 f32) (param $c1 f32) (param $beta2 f32) (param $c2 f32)
    (param $step f32) (param $eps f32) (param $decay f32)
    (local $i i32) (local $off i32)
    (local $gv v128) (local $mv v128) (local $vv v128) (local $wv v128)
    (local $kbeta1 v128) (local $kc1 v128) (local $kbeta2 v128) (local $kc2 v128)
    (local $kstep v128) (local $keps v128) (local $kdecay v128)
    (local.set $kbeta1 (f32x4.splat (local.get $beta1)))
    (local.set $kc1 (f32x4.splat (local.get $c1)))
    (local.set $kbeta2 (f32x4.splat (local.get $beta2)))
    (local.set $kc2 (f32x4.splat (local.get $c2)))
    (local.set $kstep (f32x4.splat (local.get $step)))
    (local.set $keps (f32x4.splat (local.get $eps)))
    (local.set $kdecay (f32x4.splat (local.get $decay)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $vectors)))
        (local.set $off (i32.mul (local.get $i) (i32.const 16)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $off))))
        (local.set $mv (f32x4.add
          (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $off))) (local.get $kbeta1))
          (f32x4.mul (local.get $gv) (local.get $kc1))))
        (v128.store (i32.add (local.get $outM) (local.get $off)) (local.get $mv))
        (local.set $vv (f32x4.add
          (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $off))) (local.get $kbeta2))
          (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $kc2))))
        (v128.store (i32.add (local.get $outV) (local.get $off)) (local.get $vv))
        (local.set $wv (v128.load (i32.add (local.get $w) (local.get $off))))
        ;; A branch per vector, always the same way in a call: cheaper than the sqrt and the
        ;; division next to it, and one function instead of two.
        (if (local.get $decays)
          (then (local.set $wv (f32x4.sub
            (local.get $wv)
            (f32x4.mul (f32x4.mul (local.get $wv) (v128.load (i32.add (local.get $mask) (local.get $off)))) (local.get $kdecay))))))
        (v128.store
          (i32.add (local.get $outW) (local.get $off))
          (f32x4.sub
            (local.get $wv)
            (f32x4.mul
              (f32x4.div (local.get $mv) (f32x4.add (f32x4.sqrt (local.get $vv)) (local.get $keps)))
              (local.get $kstep))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))))
