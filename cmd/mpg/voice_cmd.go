package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"mpg/engine"
)

// accountConfirmCmd sets how a subscriber confirms payments waiting for his YES: by a
// phone call keyed with his PIN, or by a code texted (what CONFIRM VOICE|SMS does by SMS).
func (a *app) accountConfirmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "confirm <msisdn> [voice|sms]",
		Short: "How the subscriber confirms payments: by a phone call (voice) or a texted code (sms); alone, shows it and the last call",
		Long: `confirm sets how a subscriber confirms the payments that wait for his YES (a PAY, BILL or
SEND above the threshold, a DEBIT, a merchant's request): voice, by a call in which he keys
his PIN, or sms, by a texted code, as his CONFIRM VOICE|SMS would; audited. Alone it shows
his choice and the state of his last call (queued, calling, answered, confirmed, refused,
no_answer, failed, or none). Calls are made only by a daemon with [voice] trunk set; until
then he is texted codes.`,
		Example: `  mpg account confirm 0612345678 voice
  mpg account confirm 0612345678`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				if len(args) == 2 {
					if args[1] != "voice" && args[1] != "sms" {
						return fmt.Errorf("confirm: want voice or sms, not %q", args[1])
					}
					if err := eng.SetConfirmBy(cmd.Context(), a.actor(), msisdn, args[1] == "voice"); err != nil {
						return err
					}
				}
				if _, err := eng.Preferences(msisdn); err != nil {
					return err // no e-purse for this number
				}
				by, state, err := eng.ConfirmCall(msisdn)
				if err != nil {
					return err
				}
				if by == "voice" && a.cfg.Voice.Trunk == "" {
					fmt.Fprintln(cmd.ErrOrStderr(), "note: [voice] trunk is not set in this configuration: no calls are made, codes go by SMS")
				}
				if state == "" {
					state = "none"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: confirms by %s; last call: %s\n", msisdn, by, state)
				return nil
			})
		},
	}
}
