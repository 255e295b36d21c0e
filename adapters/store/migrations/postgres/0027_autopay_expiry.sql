-- Autopay set-ups whose code was never confirmed (component "bot", version
-- 27): the sweep ends them once their code has expired, oldest code first,
-- and tells the payer, as it ends other expired codes.
CREATE INDEX bot_autopays_awaiting_code ON bot_autopays (otp_issued_at_ms)
    WHERE state = 'awaiting_code';
