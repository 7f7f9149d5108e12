#!/usr/bin/perl
# An SMSC built on Net::SMPP (Debian's libnet-smpp-perl), for mpg's interop test: a second
# SMPP peer we did not write. It listens on a loopback port (printed as "LISTEN <port>"),
# takes one bind_transceiver, and then:
#   - for each line "MO <ton> <from> <esm_class> <hex payload> [<sar ref> <total> <seq>]" on
#     stdin it sends a deliver_sm from <from> with that TON, NPI 1, to the short code, prints
#     "SENT <seq>", and "RESP <seq> <status>" when the deliver_sm_resp comes;
#   - every submit_sm is answered with a message id and printed as
#     "MT <id> <dest ton> <dest npi> <dest addr> <esm_class> <data_coding> <hex payload>", then
#     a delivery receipt for it is sent (deliver_sm, esm_class 0x04, receipted_message_id),
#     printed as "RECEIPT <seq> <id>";
#   - "QUIT" (or end of stdin) unbinds and exits.
# Net::SMPP encodes and decodes every PDU; this script only frames the conversation.
use strict;
use warnings;
use Net::SMPP;
use IO::Select;

$| = 1;
my ($system_id, $password) = @ARGV;
alarm 120;    # the test never takes this long: never outlive it

my $ln = Net::SMPP->new_listen('127.0.0.1', port => 0, smpp_version => 0x34, async => 1, listen => 1)
  or die "listen: $!";
print "LISTEN ", $ln->sockport, "\n";
my $c = $ln->accept or die "accept: $!";
my $bind = $c->read_pdu or die "no bind";
die sprintf("want bind_transceiver, got 0x%08x", $bind->{cmd}) unless $bind->{cmd} == 0x00000009;
my $status = ($bind->{system_id} eq $system_id && $bind->{password} eq $password) ? 0 : 0x0E;
$c->bind_transceiver_resp(seq => $bind->{seq}, status => $status, system_id => 'netsmpp');
print "BIND $bind->{system_id} $status\n";
exit 1 if $status;

my $sel = IO::Select->new($c, \*STDIN);
my ($in, $n) = ('', 0);
while (1) {
    for my $fh ($sel->can_read(1)) {
        if ($fh == \*STDIN) {
            my $got = sysread(STDIN, $in, 4096, length $in);
            quit() if !$got;
            while ($in =~ s/^(.*?)\n//) {
                my @f = split / /, $1;
                quit() if $f[0] eq 'QUIT';
                next unless $f[0] eq 'MO';
                my (undef, $ton, $from, $esm, $hex, $ref, $total, $part) = @f;
                my @sar = defined $ref
                  ? (sar_msg_ref_num => pack('n', $ref), sar_total_segments => pack('C', $total),
                     sar_segment_seqnum => pack('C', $part))
                  : ();
                my $seq = $c->deliver_sm(source_addr_ton => $ton, source_addr_npi => 1, source_addr => $from,
                    dest_addr_ton => 0, dest_addr_npi => 1, destination_addr => '1234',
                    esm_class => $esm, data_coding => 0, short_message => pack('H*', $hex), @sar);
                print "SENT $seq\n";
            }
            next;
        }
        my $pdu = $c->read_pdu;
        if (!$pdu) { print "CLOSED\n"; exit 0 }
        my $cmd = $pdu->{cmd};
        if ($cmd == 0x00000004) {    # submit_sm
            $n++;
            my $id = "ns$n";
            $c->submit_sm_resp(seq => $pdu->{seq}, message_id => $id);
            print join(' ', 'MT', $id, $pdu->{dest_addr_ton}, $pdu->{dest_addr_npi}, $pdu->{destination_addr},
                $pdu->{esm_class}, $pdu->{data_coding}, unpack('H*', $pdu->{short_message})), "\n";
            if ($pdu->{registered_delivery} & 1) {
                my $now = '2612021200';
                my $seq = $c->deliver_sm(source_addr_ton => $pdu->{dest_addr_ton}, source_addr_npi => 1,
                    source_addr => $pdu->{destination_addr}, dest_addr_ton => 0, dest_addr_npi => 1,
                    destination_addr => $pdu->{source_addr}, esm_class => 0x04, data_coding => 0,
                    short_message => "id:$id sub:001 dlvrd:001 submit date:$now done date:$now stat:DELIVRD err:000 text:",
                    receipted_message_id => "$id\0", message_state => pack('C', 2));
                print "RECEIPT $seq $id\n";
            }
        } elsif ($cmd == 0x80000005) {    # deliver_sm_resp
            print "RESP $pdu->{seq} $pdu->{status}\n";
        } elsif ($cmd == 0x00000015) {
            $c->enquire_link_resp(seq => $pdu->{seq});
        } elsif ($cmd == 0x00000006) {
            $c->unbind_resp(seq => $pdu->{seq});
            print "UNBOUND\n";
            exit 0;
        } elsif (!($cmd & 0x80000000)) {
            $c->generic_nack(seq => $pdu->{seq}, status => 0x03);
        }
    }
}

sub quit {
    $c->unbind();
    print "QUIT\n";
    exit 0;
}
