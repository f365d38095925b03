;; blockTranspose(x, out, n0, n1, n2, n3, s0, s1, s2, s3, runVectors): a transpose that keeps the
;; innermost axis in place (block-transpose.ts), as row copies:
;;   for i0 < n0, i1 < n1, i2 < n2, i3 < n3 (the output's outer axes, in output order):
;;     out ← runVectors vectors of four floats from x + i0·s0 + i1·s1 + i2·s2 + i3·s3
;; s0..s3 are byte strides in x; the output is written in order. The stock 4-D transpose moves
;; such rows one float at a time, and a 5-D one took two passes.
(module
  (import "env" "memory" (memory 1))
  (func (export "blockTranspose")
    (param $x i32) (param $out i32)
    (param $n0 i32) (param $n1 i32) (param $n2 i32) (param $n3 i32)
    (param $s0 i32) (param $s1 i32) (param $s2 i32) (param $s3 i32)
    (param $run i32)
    (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $i3 i32)
    ;; $srcK: the row's address with the outer indices up to K applied
    (local $src0 i32) (local $src1 i32) (local $src2 i32) (local $src3 i32)
    (local $o i32) (local $v i32)
    (local.set $o (local.get $out))
    (block $done0 (loop $next0
      (br_if $done0 (i32.ge_u (local.get $i0) (local.get $n0)))
      (local.set $src0 (i32.add (local.get $x) (i32.mul (local.get $i0) (local.get $s0))))
      (local.set $i1 (i32.const 0))
      (block $done1 (loop $next1
        (br_if $done1 (i32.ge_u (local.get $i1) (local.get $n1)))
        (local.set $src1 (i32.add (local.get $src0) (i32.mul (local.get $i1) (local.get $s1))))
        (local.set $i2 (i32.const 0))
        (block $done2 (loop $next2
          (br_if $done2 (i32.ge_u (local.get $i2) (local.get $n2)))
          (local.set $src2 (i32.add (local.get $src1) (i32.mul (local.get $i2) (local.get $s2))))
          (local.set $i3 (i32.const 0))
          (block $done3 (loop $next3
            (br_if $done3 (i32.ge_u (local.get $i3) (local.get $n3)))
            (local.set $src3 (i32.add (local.get $src2) (i32.mul (local.get $i3) (local.get $s3))))
            ;; copy one row
            (local.set $v (i32.const 0))
            (block $row_done (loop $next_vector
              (br_if $row_done (i32.ge_u (local.get $v) (local.get $run)))
              (v128.store (local.get $o) (v128.load (i32.add (local.get $src3) (i32.mul (local.get $v) (i32.const 16)))))
              (local.set $o (i32.add (local.get $o) (i32.const 16)))
              (local.set $v (i32.add (local.get $v) (i32.const 1)))
              (br $next_vector)))
            (local.set $i3 (i32.add (local.get $i3) (i32.const 1)))
            (br $next3)))
          (local.set $i2 (i32.add (local.get $i2) (i32.const 1)))
          (br $next2)))
        (local.set $i1 (i32.add (local.get $i1) (i32.const 1)))
        (br $next1)))
      (local.set $i0 (i32.add (local.get $i0) (i32.const 1)))
      (br $next0)))))
